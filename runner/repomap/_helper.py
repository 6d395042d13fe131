"""A parse helper process: a marshalled list of paths on stdin, their records on stdout (see index._parse).
It imports no ranking code (runner.repomap loads its exports lazily), so it starts in a tenth of a second.
Cyclic garbage collection is off: everything it builds is kept until it is written out, and the
collector's walks over that growing heap cost 6% of a large repository's parse."""

import gc
import marshal
import sys

from runner.repomap.index import _parse_batch

if __name__ == "__main__":
    gc.disable()
    sys.stdout.buffer.write(marshal.dumps(_parse_batch(sys.argv[1], marshal.loads(sys.stdin.buffer.read()))))
