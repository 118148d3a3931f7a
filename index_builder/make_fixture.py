"""Write the synthetic IDC source tables (parquet) for offline builds: python make_fixture.py DIR"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from index_builder.fixture import write_fixture

if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python make_fixture.py DIR")
    print(f"synthetic source tables written to {write_fixture(Path(sys.argv[1]))}")
