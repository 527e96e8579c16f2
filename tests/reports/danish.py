"""A small Danish catalogue for the report tests (a seed for resources/locale/da.po).

``python -m tests.reports.danish resources/locale/da.po`` fills the empty translations of the
report messages in that catalogue (run ``scripts/update_catalogue.py`` first).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

DA: dict[str, str] = {
    # risk factors and FRAX inputs (reports/risk.py)
    "Age": "Alder",
    "Alcohol 3 or more units a day": "Alkohol 3 genstande dagligt eller mere",
    "Alcohol 3 units a day or more: no.": "Alkohol 3 genstande dagligt eller mere: nej.",
    "Alcohol 3 units a day or more: yes.": "Alkohol 3 genstande dagligt eller mere: ja.",
    "Current osteoporosis treatment: none.": "Aktuel osteoporosebehandling: ingen.",
    "Current osteoporosis treatment: {treatment}.": "Aktuel osteoporosebehandling: {treatment}.",
    "Current smoking": "Aktuel rygning",
    "Current smoking: no.": "Aktuel rygning: nej.",
    "Current smoking: yes.": "Aktuel rygning: ja.",
    "Falls in the past year: {n}.": "Fald det seneste år: {n}.",
    "Femoral neck BMD (g/cm²)": "BMD lårbenshals (g/cm²)",
    "Femoral neck T-score": "T-score lårbenshals",
    "Glucocorticoids": "Glukokortikoid",
    "Glucocorticoids: no.": "Glukokortikoid: nej.",
    "Glucocorticoids: yes (dose and duration not given).": "Glukokortikoid: ja (dosis og"
    " varighed ikke angivet).",
    "Glucocorticoids: yes ({details}).": "Glukokortikoid: ja ({details}).",
    "Height (cm)": "Højde (cm)",
    "Height loss: {cm} cm.": "Højdetab: {cm} cm.",
    "Parent fractured hip": "Forælder med hoftefraktur",
    "Parent hip fracture: no.": "Forælder med hoftefraktur: nej.",
    "Parent hip fracture: yes.": "Forælder med hoftefraktur: ja.",
    "Previous fracture": "Tidligere fraktur",
    "Prior fragility fracture: no.": "Tidligere lavenergifraktur: nej.",
    "Prior fragility fracture: yes ({details}).": "Tidligere lavenergifraktur: ja ({details}).",
    "Prior fragility fracture: yes.": "Tidligere lavenergifraktur: ja.",
    "Rheumatoid arthritis": "Leddegigt (reumatoid artritis)",
    "Rheumatoid arthritis: no.": "Leddegigt (reumatoid artritis): nej.",
    "Rheumatoid arthritis: yes.": "Leddegigt (reumatoid artritis): ja.",
    "Secondary osteoporosis": "Sekundær osteoporose",
    "Secondary osteoporosis: no.": "Sekundær osteoporose: nej.",
    "Secondary osteoporosis: yes.": "Sekundær osteoporose: ja.",
    "Suggestions kept by the physician": "Forslag fastholdt af lægen",
    "Weight (kg)": "Vægt (kg)",
    "for {months} months": "i {months} måneder",
    "other site": "andet sted",
    "pelvis": "bækken",
    "upper arm": "overarm",
    "vertebra": "ryghvirvel",
    "wrist": "håndled",
    "{dose} mg prednisolone a day": "{dose} mg prednisolon dagligt",
    # charts
    "BMD versus age: {site}": "BMD i forhold til alder: {site}",
    "BMD (g/cm²)": "BMD (g/cm²)",
    "Age (years)": "Alder (år)",
    "reference mean ± 1 SD": "referencegennemsnit ± 1 SD",
    "patient": "patient",
    "BMD trend: {site}": "BMD-forløb: {site}",
    "No visits to show.": "Ingen undersøgelser at vise.",
    "Visit date": "Undersøgelsesdato",
    "LSC band around the baseline (± {lsc} g/cm²)": "LSC-bånd omkring baseline (± {lsc} g/cm²)",
    "National scale: {scale}.": "National skala: {scale}.",
    "{source}, with the cross-calibration uncertainty": "{source}, inkl. krydskalibreringens"
    " usikkerhed",
    "Because the prior scan was made on another scanner, the LSC includes the uncertainty of"
    " both scanners' cross-calibration (up to {u} g/cm² at 95 %).": "Da den tidligere skanning"
    " blev foretaget på en anden skanner, omfatter LSC usikkerheden på begge skanneres"
    " krydskalibrering (op til {u} g/cm² ved 95 %).",
    "Near threshold: category uncertain. Within the 95 % uncertainty of the measurement and the"
    " calibration the category could be {low} or {high}.": "Nær grænseværdi: kategorien er"
    " usikker. Inden for 95 %-usikkerheden på målingen og kalibreringen kan kategorien være"
    " {low} eller {high}.",
    "The prior scan of the {prior_site} ({date}) was of the other hip; the {site} is not"
    " compared with it.": "Den tidligere skanning af {prior_site} ({date}) var af den anden"
    " hofte; {site} sammenlignes ikke med den.",
    # terms
    "left": "venstre",
    "right": "højre",
    "total hip": "hofte total",
    "femoral neck": "lårbenshals (collum femoris)",
    "trochanter": "trochanter",
    "one-third radius": "underarm, 1/3 radius",
    "intertrochanteric region": "intertrokantære region",
    "Ward's triangle": "Wards trekant",
    "lumbar spine": "columna lumbalis",
    "all regions": "alle regioner",
    "lumbar spine {levels}": "lænderyg (columna lumbalis) {levels}",
    "Osteoporosis with fragility fracture": "Manifest osteoporose",
    "Normal bone density": "Normal knogletæthed",
    "Low bone mass (osteopenia)": "Osteopeni (nedsat knogletæthed)",
    "Osteoporosis": "Osteoporose",
    "Below the expected range for age": "Under det forventede for alderen",
    "Within the expected range for age": "Inden for det forventede for alderen",
    "normal": "normal",
    "mild": "let",
    "moderate": "moderat",
    "severe": "svær",
    "wedge": "kileformet",
    "biconcave": "bikonkav",
    "crush": "kompression",
    "female": "kvinde",
    "yes": "ja",
    "no": "nej",
    "male": "mand",
    "{items} and {last}": "{items} og {last}",
    "CPR": "CPR",
    "ID": "ID",
    "DRAFT": "UDKAST",
    "SIGNED": "GODKENDT",
    "AMENDED": "RETTET",
    # footer
    "WHO/ISCD: normal T ≥ -1.0, osteoporosis T ≤ -2.5, classified on the printed "
    "one-decimal value": "WHO/ISCD: normal T ≥ -1,0, osteoporose T ≤ -2,5, klassificeret på den "
    "udskrevne værdi med én decimal",
    "T-score reference: {t}.": "T-score-reference: {t}.",
    "Z-score reference: {z}.": "Z-score-reference: {z}.",
    "Calibration chain: {chain}.": "Kalibreringskæde: {chain}.",
    "Category rule: {rule}.": "Kategoriregel: {rule}.",
    "Generated by {program}.": "Dannet af {program}.",
    "Page {page} of {pages}": "Side {page} af {pages}",
    "{report_id}, version {version}": "{report_id}, version {version}",
    # header and blocks
    "DXA report": "DXA-svar",
    "Report {report_id}": "Svar {report_id}",
    "Version {version}": "Version {version}",
    "Level {level}": "Model {level}",
    "Name": "Navn",
    "Birth date": "Fødselsdato",
    "Age at scan": "Alder ved skanning",
    "{age} years": "{age} år",
    "Sex": "Køn",
    "Menopausal status": "Menopausestatus",
    "postmenopausal": "postmenopausal",
    "premenopausal": "præmenopausal",
    "Height": "Højde",
    "Weight": "Vægt",
    "BMI": "BMI",
    "Patient": "Patient",
    "Referring physician": "Henvisende læge",
    "Indication": "Henvisningsårsag",
    "Referral": "Henvisning",
    "Scan date": "Skanningsdato",
    "Scanner": "Skanner",
    "{manufacturer} {model}, serial number {serial}": "{manufacturer} {model}, "
    "serienummer {serial}",
    "Software version": "Softwareversion",
    "Technologist": "Radiograf/bioanalytiker",
    "Scan mode": "Skanningstilstand",
    "Scanner location": "Skannerens placering",
    "Scanned sites": "Skannede områder",
    "lower back": "lænderyggen",
    "hip": "hoften",
    "forearm": "underarmen",
    "Examination": "Undersøgelse",
    "Technical limitations": "Tekniske forbehold",
    "None.": "Ingen.",
    # results
    "Region": "Område",
    "T-score": "T-score",
    "Z-score": "Z-score",
    "Category": "Kategori",
    "Scanner value¹": "Skannerværdi¹",
    "{region} (excluded*)": "{region} (udeladt*)",
    "Results": "Resultater",
    "BMD is harmonised to the national scale (3 decimals); T- and Z-scores (1 decimal) are "
    "calculated from the harmonised BMD.": "BMD er harmoniseret til den nationale skala "
    "(3 decimaler); T- og Z-score (1 decimal) er beregnet ud fra den harmoniserede BMD.",
    "¹ The scanner's own BMD before harmonisation (g/cm²).": "¹ Skannerens egen BMD før "
    "harmonisering (g/cm²).",
    "* Excluded from the analysis; see the technical limitations.": "* Udeladt af analysen; "
    "se de tekniske forbehold.",
    "Diagnosis": "Diagnose",
    # VFA
    "Level": "Niveau",
    "Grade": "Grad",
    "Finding": "Fund",
    "Shape": "Form",
    "not reported": "ikke angivet",
    "not evaluable": "ikke vurderbar",
    "{grade} fracture": "{grade} fraktur",
    "{grade} deformity": "{grade} deformitet",
    "Vertebral fracture assessment (VFA)": "Vertebral frakturvurdering (VFA)",
    "Read by {reader} (Genant semi-quantitative method).": "Vurderet af {reader} (Genants "
    "semikvantitative metode).",
    "met": "opfyldt",
    "not met": "ikke opfyldt",
    "ISCD indication for VFA: {answer}": "ISCD-indikation for VFA: {answer}",
    # comparison
    "Comparison with the prior study": "Sammenligning med tidligere undersøgelse",
    "Prior date": "Tidligere dato",
    "Prior BMD": "Tidligere BMD",
    "Current BMD": "Aktuel BMD",
    "Change (g/cm²)": "Ændring (g/cm²)",
    "Change (%)": "Ændring (%)",
    "LSC (g/cm²)": "LSC (g/cm²)",
    "Result": "Resultat",
    "Area change": "Ændring i areal",
    "ISCD minimum": "ISCD-minimum",
    "local precision": "lokal præcision",
    "significant": "signifikant",
    "not significant": "ikke signifikant",
    "Not yet written.": "Endnu ikke skrevet.",
    # level B
    "Fracture risk (FRAX)": "Frakturrisiko (FRAX)",
    "10-year probability of a major osteoporotic fracture {major} % and of a hip fracture "
    "{hip} % ({model}; calculated outside this program, shown as given).": "10-års "
    "sandsynlighed for en større osteoporotisk fraktur {major} % og for en hoftefraktur "
    "{hip} % ({model}; beregnet uden for dette program, gengivet som angivet).",
    "FRAX input": "FRAX-input",
    "Value": "Værdi",
    "Risk factors (questionnaire)": "Risikofaktorer (spørgeskema)",
    "None reported.": "Ingen angivet.",
    "Further work-up and follow-up": "Videre udredning og opfølgning",
    "Secondary causes to consider: {hints}.": "Sekundære årsager at overveje: {hints}.",
    "Referral to the fracture liaison service (FLS) is recommended.": "Henvisning til "
    "frakturklinik (FLS) anbefales.",
    "Next DXA: follow-up scan in {years} years.": "Næste DXA: kontrolskanning om {years} år.",
    "Charts": "Grafer",
    "Scan image": "Skanningsbillede",
    "Scan images": "Skanningsbilleder",
    # sign-off
    "Sign-off": "Godkendelse",
    "Draft, not signed: the report is not valid until a physician has signed it.": "Udkast, "
    "ikke underskrevet: svaret er ikke gyldigt, før en læge har underskrevet det.",
    "Read and signed by {name}, {time}.": "Godkendt og underskrevet af {name}, {time}.",
    "Version": "Version",
    "Time": "Tidspunkt",
    "Amendment and reason": "Tillæg / rettelse og begrundelse",
    "Conclusion": "Konklusion",
    "Recommendation": "Anbefaling",
    "DXA report {report_id}": "DXA-svar {report_id}",
    # patient summary
    "Your bone density is low (osteoporosis), and you have a fracture caused by weak bones.": (
        "Din knogletæthed er lav (knogleskørhed), og du har et brud, der skyldes svage knogler."
    ),
    "Your bone density is normal.": "Din knogletæthed er normal.",
    "Your bone density is lower than normal (osteopenia).": "Din knogletæthed er lavere end "
    "normalt (osteopeni).",
    "Your bone density is low (osteoporosis).": "Din knogletæthed er lav (knogleskørhed).",
    "Your bone density is lower than expected for your age.": "Din knogletæthed er lavere end "
    "forventet for din alder.",
    "Your bone density is as expected for your age.": "Din knogletæthed er som forventet for "
    "din alder.",
    "The result is given as a T-score, which compares your bone density with that of healthy "
    "young adults: -1.0 or higher is normal, between -1.0 and -2.5 is lower than normal "
    "(osteopenia), and -2.5 or lower is osteoporosis. Your lowest T-score was {score}.": (
        "Resultatet angives som en T-score, der sammenligner din knogletæthed med raske unge "
        "voksnes: -1,0 eller derover er normalt, mellem -1,0 og -2,5 er lavere end normalt "
        "(osteopeni), og -2,5 eller derunder er knogleskørhed. Din laveste T-score var {score}."
    ),
    "The result is given as a Z-score, which compares your bone density with that of people "
    "of your own age and sex: -2.0 or lower is below the expected range. Your lowest Z-score "
    "was {score}.": (
        "Resultatet angives som en Z-score, der sammenligner din knogletæthed med personer af "
        "samme alder og køn: -2,0 eller derunder er under det forventede. Din laveste Z-score "
        "var {score}."
    ),
    "The picture of your back showed that one or more vertebrae have collapsed.": "Billedet af "
    "din ryg viste, at en eller flere ryghvirvler er sammenfaldet.",
    "The picture of your back showed no collapsed vertebrae.": "Billedet af din ryg viste "
    "ingen sammenfaldne ryghvirvler.",
    "This scan cannot be compared directly with your previous scan; it is the new starting "
    "point for later scans.": "Denne skanning kan ikke sammenlignes direkte med din tidligere "
    "skanning; den er det nye udgangspunkt for senere skanninger.",
    "Your bone density has decreased since your previous scan.": "Din knogletæthed er faldet "
    "siden din sidste skanning.",
    "Your bone density has increased since your previous scan.": "Din knogletæthed er steget "
    "siden din sidste skanning.",
    "Your bone density has not changed much since your previous scan.": "Din knogletæthed er "
    "ikke ændret væsentligt siden din sidste skanning.",
    "Your bone density scan": "Din knogleskanning",
    "What was measured": "Hvad blev målt",
    "On {date} you had a bone density scan (DXA scan) of the {sites}. The scan uses a very "
    "small dose of X-rays to measure how dense, and so how strong, your bones are.": (
        "Den {date} fik du lavet en knogleskanning (DXA-skanning) af {sites}. Skanningen "
        "bruger en meget lille dosis røntgenstråler til at måle, hvor tætte og dermed hvor "
        "stærke dine knogler er."
    ),
    "Your result": "Dit resultat",
    "What happens next": "Hvad sker der nu",
    "Your doctor ({referrer}) receives the full report and will contact you about what the "
    "result means for you.": "Din læge ({referrer}) modtager hele svaret og kontakter dig om, "
    "hvad resultatet betyder for dig.",
    "You may be contacted by the fracture liaison service (FLS) at the hospital.": "Du kan "
    "blive kontaktet af hospitalets frakturklinik (FLS).",
    "A new scan is suggested in about {years} years.": "En ny skanning foreslås om cirka "
    "{years} år.",
    "Read more": "Læs mere",
    "You can read more about bone density and osteoporosis at sundhed.dk and at the Danish "
    "Osteoporosis Society, osteoporose.dk.": "Du kan læse mere om knogletæthed og "
    "knogleskørhed på sundhed.dk og hos Osteoporoseforeningen, osteoporose.dk.",
    "Report {report_id}. Questions about the scan: {site}, {department}.": "Svar {report_id}. "
    "Spørgsmål om skanningen: {site}, {department}.",
    "Draft: the report has not yet been signed by a physician.": "Udkast: svaret er endnu ikke "
    "underskrevet af en læge.",
    # rules
    "{category}.": "{category}.",
    "{category}: lowest T-score {score}, at the {site}.": "{category}: laveste T-score "
    "{score}, målt i {site}.",
    "{category}: lowest T-score {score}.": "{category}: laveste T-score {score}.",
    "{category}: lowest Z-score {score}, at the {site}.": "{category}: laveste Z-score "
    "{score}, målt i {site}.",
    "{category}: lowest Z-score {score}.": "{category}: laveste Z-score {score}.",
    "Before the menopause and in men under 50, BMD alone does not establish a diagnosis of "
    "osteoporosis.": "Før menopausen og hos mænd under 50 år kan osteoporose ikke "
    "diagnosticeres ud fra BMD alene.",
    "A fragility fracture is reported; consider it in the clinical diagnosis whatever the BMD "
    "category.": "Der er oplyst en lavenergifraktur; den bør indgå i den kliniske diagnose "
    "uanset BMD-kategorien.",
    "New baseline: {reason}. The prior study is not compared.": "Ny baseline: {reason}. Der "
    "sammenlignes ikke med den tidligere undersøgelse.",
    "New baseline: the prior study is not compared.": "Ny baseline: der sammenlignes ikke med "
    "den tidligere undersøgelse.",
    "The prior study was made on another scanner; both values are expressed on the current "
    "calibration through the documented cross-calibration.": "Den tidligere undersøgelse er "
    "lavet på en anden skanner; begge værdier er udtrykt på den aktuelle kalibrering via den "
    "dokumenterede krydskalibrering.",
    "local precision study": "lokal præcisionsundersøgelse",
    "A change is significant when it equals or exceeds the least significant change (LSC) of "
    "the site.": "En ændring er signifikant, når den er lig med eller større end den mindste "
    "signifikante ændring (LSC) for området.",
    "{site}: {change} g/cm² ({pct} %) since {date}.": "{site}: {change} g/cm² ({pct} %) "
    "siden {date}.",
    "Significant decrease (LSC {lsc} g/cm², {source}).": "Signifikant fald (LSC {lsc} g/cm², "
    "{source}).",
    "Significant increase (LSC {lsc} g/cm², {source}).": "Signifikant stigning (LSC {lsc} "
    "g/cm², {source}).",
    "Not significant: smaller than the LSC of {lsc} g/cm² ({source}).": "Ikke signifikant "
    "ændring: mindre end LSC på {lsc} g/cm² ({source}).",
    "The bone area of the {site} changed by {pct} % (more than 2 %): check that the regions "
    "are comparable before relying on the change.": "Knoglearealet i {site} er ændret "
    "{pct} % (mere end 2 %): kontrollér, at områderne er sammenlignelige, før ændringen "
    "tillægges vægt.",
    "Where marked ISCD minimum, the LSC is derived from the ISCD minimum acceptable precision "
    "because no local precision study is available.": "Hvor der står ISCD-minimum, er LSC "
    "udledt af ISCD's mindste acceptable præcision, fordi der ikke findes en lokal "
    "præcisionsundersøgelse.",
    "Vertebral fracture on VFA at {levels}.": "Vertebral fraktur ved VFA i {levels}.",
    "Mild vertebral deformity on VFA, uncertain as a fracture.": "Let vertebral deformitet ved "
    "VFA, usikker som fraktur.",
    "No vertebral fracture on VFA.": "Ingen vertebral fraktur ved VFA.",
    "New baseline; no comparison with the prior study.": "Ny baseline; ingen sammenligning med "
    "den tidligere undersøgelse.",
    "Significant decrease in BMD since the prior study at the {sites}.": "Signifikant fald i "
    "BMD siden den tidligere undersøgelse i {sites}.",
    "Significant increase in BMD since the prior study at the {sites}.": "Signifikant stigning "
    "i BMD siden den tidligere undersøgelse i {sites}.",
    "No significant change in BMD since the prior study.": "Ingen signifikant ændring i BMD "
    "siden den tidligere undersøgelse.",
    "Treatment of osteoporosis should be considered by the referring physician.": "Behandling "
    "af osteoporose bør overvejes af den henvisende læge.",
    "Consider the fracture risk (for example FRAX) when deciding on treatment.": "Overvej "
    "frakturrisikoen (f.eks. FRAX) ved beslutning om behandling.",
    "Work-up for secondary causes of low bone density is recommended.": "Udredning for "
    "sekundære årsager til lav knogletæthed anbefales.",
    "Consider work-up for secondary causes: {hints}.": "Overvej udredning for sekundære "
    "årsager: {hints}.",
    "Referral to the fracture liaison service (FLS) is recommended after the fracture.": (
        "Henvisning til frakturklinik (FLS) anbefales efter frakturen."
    ),
    "Lateral spine imaging (VFA or radiograph) is indicated ({reasons}) and has not been "
    "done.": "Lateral billeddannelse af columna (VFA eller røntgen) er indiceret ({reasons}) "
    "og er ikke udført.",
    "Lateral spine imaging (VFA or radiograph) is indicated and has not been done.": "Lateral "
    "billeddannelse af columna (VFA eller røntgen) er indiceret og er ikke udført.",
    "A lateral radiograph of the spine is suggested to clarify the finding.": "Røntgen af "
    "columna i sideprojektion foreslås til afklaring af fundet.",
    "Follow-up scan in 1 year.": "Kontrolskanning om 1 år.",
    "Follow-up scan in {years} years.": "Kontrolskanning om {years} år.",
    # vfa
    "{grade}, Genant grade {number}": "{grade}, Genant grad {number}",
    "Vertebral fracture at {levels}.": "Vertebral fraktur i {levels}.",
    "Vertebral fractures at {levels}.": "Vertebrale frakturer i {levels}.",
    "Mild deformity (Genant grade 1) at {levels}, uncertain as a fracture.": "Let deformitet "
    "(Genant grad 1) i {levels}, usikker som fraktur.",
    "No vertebral fracture at the evaluable levels.": "Ingen vertebral fraktur i de "
    "vurderbare niveauer.",
    "No vertebral fracture (T4-L4).": "Ingen vertebral fraktur (T4-L4).",
    "Not evaluable: {levels}.": "Ikke vurderbar: {levels}.",
    "Spinal deformity index (SDI): {sdi} (sum of the Genant grades).": "Spinal deformity "
    "index (SDI): {sdi} (summen af Genant-graderne).",
    "woman aged 70 or more": "kvinde på 70 år eller derover",
    "man aged 80 or more": "mand på 80 år eller derover",
    "historical height loss over 4 cm": "højdetab på over 4 cm",
    "self-reported, undocumented vertebral fracture": "selvrapporteret, udokumenteret "
    "vertebral fraktur",
    "glucocorticoids equivalent to 5 mg prednisolone a day or more for 3 months or more": (
        "glukokortikoid svarende til 5 mg prednisolon dagligt eller mere i 3 måneder eller mere"
    ),
    # labels of codes (issue 16)
    "AP spine image": "Billede af lænderyg (AP)",
    "Amended": "Rettet",
    "Approved": "Godkendt",
    "CUSUM": "CUSUM",
    "Daily QC (CUSUM shift)": "Daglig QC (CUSUM-skift)",
    "Daily QC (slow drift)": "Daglig QC (langsom drift)",
    "Deming regression": "Deming-regression",
    "Draft": "Udkast",
    "Drift correction": "Driftkorrektion",
    "Forearm image": "Underarmsbillede",
    "Hip image": "Hoftebillede",
    "Image": "Billede",
    "Least squares": "Mindste kvadraters metode",
    "NHANES III femur, non-Hispanic white women 20-29": (
        "NHANES III lårben, ikke-latinamerikanske hvide kvinder 20-29 år"
    ),
    "National equation": "National ligning",
    "Not started": "Ikke påbegyndt",
    "PROVISIONAL Z-score age/sex bands (constructed, not published data)": (
        "FORELØBIGE Z-score-intervaller for alder og køn (konstruerede, ikke publicerede data)"
    ),
    "PROVISIONAL national lumbar spine T reference (women 20-29)": (
        "FORELØBIG national T-reference for lænderyg (kvinder 20-29 år)"
    ),
    "Patients on both scanners, Deming regression": (
        "Patienter skannet på begge skannere, Deming-regression"
    ),
    "Phantom certificate": "Fantomcertifikat",
    "Proposed": "Foreslået",
    "Reference scanner's phantom line": "Referenceskannerens fantomlinje",
    "Retired": "Udfaset",
    "Scanner correction": "Skannerkorrektion",
    "Scanner report": "Skannerens rapport",
    "Signed": "Underskrevet",
    "Structured report": "Struktureret rapport",
    "Travelling phantom, least squares": "Rejsefantom, mindste kvadraters metode",
    "VFA image": "VFA-billede",
    "Whole body image": "Helkropsbillede",
    "daily QC of {serial}": "daglig QC af {serial}",
    "not harmonised": "ikke harmoniseret",
    "outside the limit": "uden for grænsen",
    "patients scanned on {reference}": "patienter skannet på {reference}",
    "patients scanned on {reference} and {serial}": "patienter skannet på {reference} og {serial}",
    "reference scanner {serial}": "referenceskanner {serial}",
    "travelling phantom round {round}": "rejsefantomrunde {round}",
    "whole scan": "hele skanningen",
}


def danish(message: str) -> str:
    """Translate with the test catalogue; unknown messages stay English (as gettext does)."""
    return DA.get(message, message)


def english(message: str) -> str:
    """The identity translator (English is the source language)."""
    return message


Translator = Callable[[str], str]


def fill_po(path: Path) -> int:
    """Fill empty ``msgstr`` entries of a .po catalogue from :data:`DA`; return how many."""
    from babel.messages.pofile import read_po, write_po

    with path.open("rb") as fh:
        catalog = read_po(fh, locale="da")
    filled = 0
    for message in catalog:
        if isinstance(message.id, str) and message.id in DA and not message.string:
            message.string = DA[message.id]
            filled += 1
    with path.open("wb") as fh:
        write_po(fh, catalog, width=100, sort_output=True, omit_header=False)
    return filled


if __name__ == "__main__":
    count = fill_po(Path(sys.argv[1]))
    print(f"{sys.argv[1]}: filled {count} report messages")
