import sys

from .site import main

if __name__ == "__main__":  # not again in the worker processes of --jobs (spawned on macOS, Windows)
    sys.exit(main(sys.argv[1:]))
