#!/usr/bin/env python3
"""Doxygen input filter for tlsplug's headers (docs/Doxyfile).

The headers use plain C comments, as the house style wants.  This filter
shows Doxygen which of them document something, without changing a line
count:
  - the first comment of a file becomes the file's documentation (\\file);
  - a comment directly above a declaration (no blank line between) becomes
    that declaration's documentation (/** ... */);
  - a comment after code on the same line documents that member or value
    (/**< ... */);
  - section banners and free-standing comments (followed by a blank line)
    stay plain comments.
"""
import re
import sys

BANNER = re.compile(r'^\s*/\*[\s\-=*]*\*/\s*$')
START = re.compile(r'^(\s*)/\*(?![*!])')
TRAILING = re.compile(r'^(\s*[^\s/*].*?)/\*(?![*!<])')


def block_end(lines, i, col):
    """Index of the line where the comment opened at lines[i][col] ends."""
    j, start = i, col + 2
    while j < len(lines) and '*/' not in lines[j][start:]:
        j, start = j + 1, 0
    return min(j, len(lines) - 1)


def main(path):
    with open(path, encoding='utf-8') as f:
        lines = f.read().split('\n')
    out = []
    seen_comment = False
    i = 0
    while i < len(lines):
        line = lines[i]
        m = START.match(line)
        if m:
            j = block_end(lines, i, m.end(1))
            block = lines[i:j + 1]
            nxt = lines[j + 1] if j + 1 < len(lines) else ''
            if not seen_comment and i < 3:
                block[0] = line.replace('/*', '/** \\file', 1)
            elif not BANNER.match(' '.join(block)) and nxt.strip() and \
                    not nxt.lstrip().startswith('#if') and not nxt.lstrip().startswith('#endif'):
                block[0] = line.replace('/*', '/**', 1)
            seen_comment = True
            out.extend(block)
            i = j + 1
            continue
        t = TRAILING.match(line)
        if t and '"' not in t.group(1):
            line = t.group(1) + '/**<' + line[t.end():]
        out.append(line)
        i += 1
    sys.stdout.write('\n'.join(out))


if __name__ == '__main__':
    main(sys.argv[1])
