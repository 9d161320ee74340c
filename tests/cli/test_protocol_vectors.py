#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""docs/protocol.md holds exactly the vectors of the independent Python
implementation (tests/vectors/protocol_vectors.py)."""
import os
import subprocess
import sys

root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.exit(subprocess.call(["/usr/bin/python3", os.path.join(root, "tests/vectors/protocol_vectors.py"),
                          "--check", os.path.join(root, "docs/protocol.md")]))
