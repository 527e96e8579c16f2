"""Write a self-signed EC P-256 signing key and certificate (PEM) for tests and the demo."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from dxa_app.report_out import make_self_signed_certificate  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    """Write ``<out>/<stem>.key.pem`` (mode 0600) and ``<out>/<stem>.cert.pem``.

    Parameters
    ----------
    argv : list of str, optional
        Command-line arguments (default ``sys.argv[1:]``).

    Returns
    -------
    int
        0 on success, 1 when the files exist and ``--force`` was not given.
    """
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cn", default="DXA Demo Læge", help="the signer's common name")
    parser.add_argument("--days", type=int, default=3650, help="validity in days")
    parser.add_argument("--out", type=Path, default=Path(), help="output folder")
    parser.add_argument("--stem", default="dxa-signer", help="file name stem")
    parser.add_argument("--force", action="store_true", help="overwrite existing files")
    args = parser.parse_args(argv)

    key_path = args.out / f"{args.stem}.key.pem"
    cert_path = args.out / f"{args.stem}.cert.pem"
    if not args.force and (key_path.exists() or cert_path.exists()):
        print(f"{key_path} or {cert_path} exists; use --force", file=sys.stderr)
        return 1
    key_pem, cert_pem = make_self_signed_certificate(args.cn, days=args.days)
    args.out.mkdir(parents=True, exist_ok=True)
    fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(key_pem)
    cert_path.write_bytes(cert_pem)
    print(f"key:  {key_path}\ncert: {cert_path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
