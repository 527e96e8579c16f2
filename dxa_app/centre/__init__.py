"""Knowledge-centre exchange: signed patient-free bundles, national fit, published corrections."""
