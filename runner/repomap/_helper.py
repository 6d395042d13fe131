"""A parse helper process: a marshalled list of paths on stdin, their records on stdout (see index._parse).
It imports no ranking code (runner.repomap loads its exports lazily), so it starts in a tenth of a second."""

import marshal
import sys

from runner.repomap.index import _parse_batch

if __name__ == "__main__":
    sys.stdout.buffer.write(marshal.dumps(_parse_batch(sys.argv[1], marshal.loads(sys.stdin.buffer.read()))))
