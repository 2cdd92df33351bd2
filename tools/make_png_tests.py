#!/usr/bin/python3
"""Regenerate tests/data/png: small PNG files covering every colour type,
bit depth, filter type and interlace, with the pixels we expect from them.

    /usr/bin/python3 tools/make_png_tests.py [--out tests/data/png]

The PNGs are written by the small encoder below (Python's zlib for the
deflate part) so that the filter of every row is chosen explicitly: row k
of an image (counting rows of all Adam7 passes in order) uses filter k % 5,
so each file exercises None, Sub, Up, Average and Paeth. Files use zlib
levels 0, 1, 6 and 9 in turn (stored, fixed and dynamic Huffman blocks) and
some split the zlib stream over several IDAT chunks.

For each NAME.png there is NAME.bin: the decoded 8-bit pixels as libxcnn
returns them (rows top to bottom, channels interleaved), and a line
"NAME width height channels" in manifest.txt. The rules: gray -> 1 channel,
RGB and palette -> 3, anything with alpha or a tRNS chunk -> RGBA; 16-bit
samples keep the high byte; 1/2/4-bit gray is scaled by 255 / (2^d - 1).

If PIL is installed, every file is also decoded with PIL and compared to
the expected pixels (an independent check of this encoder).
"""
import argparse
import os
import random
import struct
import zlib

ADAM7 = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2),
         (0, 1, 1, 2)]
SPP = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}


def chunk(ctype, data):
    return (struct.pack('>I', len(data)) + ctype + data +
            struct.pack('>I', zlib.crc32(ctype + data) & 0xffffffff))


def paeth(a, b, c):
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    if pa <= pb and pa <= pc:
        return a
    return b if pb <= pc else c


def filter_row(row, prev, bpp, ftype):
    out = bytearray([ftype])
    for i, x in enumerate(row):
        a = row[i - bpp] if i >= bpp else 0
        b = prev[i] if prev is not None else 0
        c = prev[i - bpp] if prev is not None and i >= bpp else 0
        pred = [0, a, b, (a + b) // 2, paeth(a, b, c)][ftype]
        out.append((x - pred) & 255)
    return out


def pack_row(samples, depth):
    """Samples of one row into bytes: MSB-first below 8 bits, big-endian at 16."""
    if depth == 8:
        return bytearray(samples)
    if depth == 16:
        out = bytearray()
        for s in samples:
            out += struct.pack('>H', s)
        return out
    out = bytearray()
    per = 8 // depth
    for i in range(0, len(samples), per):
        byte = 0
        for k in range(per):
            s = samples[i + k] if i + k < len(samples) else 0
            byte |= s << (8 - depth * (k + 1))
        out.append(byte)
    return out


def encode_png(w, h, depth, ctype, interlace, pixels, plte=None, trns=None, level=6,
               idat_split=None):
    """pixels[y][x] is a tuple of SPP[ctype] raw sample values."""
    spp = SPP[ctype]
    bpp = max(1, spp * depth // 8)
    passes = ADAM7 if interlace else [(0, 0, 1, 1)]
    raw = bytearray()
    k = 0
    for (x0, y0, dx, dy) in passes:
        xs = list(range(x0, w, dx))
        ys = list(range(y0, h, dy))
        if not xs or not ys:
            continue
        prev = None
        for y in ys:
            row = pack_row([s for x in xs for s in pixels[y][x]], depth)
            raw += filter_row(row, prev, bpp, k % 5)
            prev = row
            k += 1
    z = zlib.compress(bytes(raw), level)
    out = b'\x89PNG\r\n\x1a\n'
    out += chunk(b'IHDR', struct.pack('>IIBBBBB', w, h, depth, ctype, 0, 0, interlace))
    out += chunk(b'tEXt', b'Comment\0libxcnn test image')  # an ancillary chunk to skip
    if plte is not None:
        out += chunk(b'PLTE', bytes(c for rgb in plte for c in rgb))
    if trns is not None:
        out += chunk(b'tRNS', trns)
    step = idat_split or len(z)
    for i in range(0, len(z), step):
        out += chunk(b'IDAT', z[i:i + step])
    out += chunk(b'IEND', b'')
    return out


def to8(v, depth):
    if depth == 16:
        return v >> 8
    if depth == 8:
        return v
    return v * 255 // ((1 << depth) - 1)


def expected(w, h, depth, ctype, pixels, plte, trns):
    """The decoded image as libxcnn returns it: (channels, bytes)."""
    key = None
    if trns is not None and ctype in (0, 2):
        key = tuple(struct.unpack('>%dH' % (len(trns) // 2), trns))
    alpha = ctype in (4, 6) or trns is not None
    ch = 4 if alpha else (1 if ctype == 0 else 3)
    out = bytearray()
    for y in range(h):
        for x in range(w):
            v = pixels[y][x]
            if ctype == 0:
                g = to8(v[0], depth)
                px = [g, g, g, 0 if key == (v[0],) else 255]
            elif ctype == 2:
                px = [to8(s, depth) for s in v] + [0 if key == tuple(v) else 255]
            elif ctype == 3:
                px = list(plte[v[0]]) + [trns[v[0]] if trns and v[0] < len(trns) else 255]
            elif ctype == 4:
                g = to8(v[0], depth)
                px = [g, g, g, to8(v[1], depth)]
            else:
                px = [to8(s, depth) for s in v]
            out += bytes(px[:1] if ch == 1 else px[:ch])
    return ch, bytes(out)


def make_case(rng, w, h, depth, ctype, interlace, use_trns=False, plte_n=None):
    spp = SPP[ctype]
    maxv = (1 << depth) - 1
    plte = trns = None
    if ctype == 3:
        n = plte_n or min(1 << depth, 256)
        plte = [(rng.randrange(256), rng.randrange(256), rng.randrange(256)) for _ in range(n)]
        maxv = n - 1
        if use_trns:
            trns = bytes(rng.randrange(256) for _ in range(max(1, n // 2)))
    # Smooth gradients plus noise: the filters and matches have work to do.
    pixels = [[tuple(min(maxv, (((x * 3 + y * 5 + 7 * c) * maxv) // (3 * w + 5 * h + 14)) ^
                         (rng.randrange(maxv + 1) if rng.random() < 0.3 else 0))
                     for c in range(spp)) for x in range(w)] for y in range(h)]
    if use_trns and ctype in (0, 2):
        keyv = pixels[h // 2][w // 2]
        trns = b''.join(struct.pack('>H', s) for s in keyv)
    return pixels, plte, trns


def pil_check(path, ch, data, depth):
    try:
        from PIL import Image
    except ImportError:
        return None
    im = Image.open(path)
    mode = {1: 'L', 3: 'RGB', 4: 'RGBA'}[ch]
    if im.mode.startswith('I'):  # 16-bit gray: PIL keeps the full value
        return None
    if depth != 8 and 'transparency' in im.info and im.mode in ('L', 'RGB'):
        return None  # PIL compares the unscaled tRNS key with 8-bit samples
    return im.convert(mode).tobytes() == data


def stream_input(n):
    """Test input for the inflate tests; tests/test_inflate.c makes the same
    bytes. Words (matches), noise (literals) and copies from 30000 bytes back
    (long distances)."""
    words = [b'the ', b'cat ', b'sat ', b'on ', b'a ', b'mat, ', b'quickly\n', b'\x00\x01\x02',
             b'zzzzzzzz']
    out = bytearray()
    x = 12345
    while len(out) < n:
        x = (x * 1103515245 + 12345) & 0x7fffffff
        r = x >> 16
        if r % 7 == 0:
            out.append(r & 255)
        elif r % 11 == 0 and len(out) > 30000:
            for _ in range(40):
                out.append(out[len(out) - 30000])
        else:
            out += words[r % 9]
    return bytes(out[:n])


def gzip_member(data, name=None, comment=None, extra=None, hcrc=False, level=9):
    """A gzip member with the optional header fields Python's gzip omits."""
    flg = (4 if extra is not None else 0) | (8 if name else 0) | (16 if comment else 0) | \
        (2 if hcrc else 0)
    h = bytes([0x1f, 0x8b, 8, flg]) + struct.pack('<I', 0) + bytes([2, 3])
    if extra is not None:
        h += struct.pack('<H', len(extra)) + extra
    if name:
        h += name + b'\0'
    if comment:
        h += comment + b'\0'
    if hcrc:
        h += struct.pack('<H', zlib.crc32(h) & 0xffff)
    c = zlib.compressobj(level, zlib.DEFLATED, -15)
    body = c.compress(data) + c.flush()
    return h + body + struct.pack('<II', zlib.crc32(data) & 0xffffffff, len(data) & 0xffffffff)


def write_streams(out):
    """zlib streams of stream_input(40000) at levels 1, 6, 9 (level 0 of the
    first 4000 bytes, to keep the files small) and two gzip files."""
    data = stream_input(40000)
    for level in (0, 1, 6, 9):
        n = 4000 if level == 0 else 40000
        with open(os.path.join(out, 'zlib_l%d.z' % level), 'wb') as f:
            f.write(zlib.compress(data[:n], level))
    with open(os.path.join(out, 'fields.gz'), 'wb') as f:
        f.write(gzip_member(data[:5000], name=b'input.bin', comment=b'made by make_png_tests.py',
                            extra=b'XC\x02\x00hi', hcrc=True))
    with open(os.path.join(out, 'multi.gz'), 'wb') as f:
        f.write(gzip_member(data[:3000], level=1) + gzip_member(data[3000:9000], name=b'b') +
                gzip_member(b'') + gzip_member(data[9000:12000], level=0))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--out', default=os.path.join(os.path.dirname(__file__), '..', 'tests', 'data',
                                                  'png'))
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    rng = random.Random(1234)
    cases = []
    levels = [0, 1, 6, 9]
    combos = [(0, 1), (0, 2), (0, 4), (0, 8), (0, 16), (2, 8), (2, 16), (3, 1), (3, 2), (3, 4),
              (3, 8), (4, 8), (4, 16), (6, 8), (6, 16)]
    i = 0
    for ctype, depth in combos:
        for interlace in (0, 1):
            name = 'c%d_d%d%s' % (ctype, depth, '_i' if interlace else '')
            cases.append((name, 13, 11, depth, ctype, interlace, False, levels[i % 4],
                          7 if i % 3 == 0 else None, None))
            i += 1
    # Transparency, odd sizes, empty Adam7 passes, a partial palette.
    cases += [
        ('c0_d8_trns', 9, 7, 8, 0, 0, True, 9, None, None),
        ('c0_d4_trns_i', 9, 7, 4, 0, 1, True, 6, None, None),
        ('c2_d8_trns', 9, 7, 8, 2, 0, True, 1, None, None),
        ('c2_d16_trns_i', 9, 7, 16, 2, 1, True, 6, None, None),
        ('c3_d8_trns', 9, 7, 8, 3, 0, True, 6, 5, 20),
        ('c3_d2_trns_i', 9, 7, 2, 3, 1, True, 9, None, 3),
        ('c2_d8_1x1_i', 1, 1, 8, 2, 1, False, 6, None, None),
        ('c0_d1_3x2_i', 3, 2, 1, 0, 1, False, 0, None, None),
        ('c6_d8_64x48', 64, 48, 8, 6, 0, False, 9, 100, None),
    ]
    manifest = []
    checked = skipped = 0
    for (name, w, h, depth, ctype, interlace, use_trns, level, split, plte_n) in cases:
        pixels, plte, trns = make_case(rng, w, h, depth, ctype, interlace, use_trns, plte_n)
        png = encode_png(w, h, depth, ctype, interlace, pixels, plte, trns, level, split)
        ch, data = expected(w, h, depth, ctype, pixels, plte, trns)
        path = os.path.join(args.out, name + '.png')
        with open(path, 'wb') as f:
            f.write(png)
        with open(os.path.join(args.out, name + '.bin'), 'wb') as f:
            f.write(data)
        manifest.append('%s %d %d %d' % (name, w, h, ch))
        ok = pil_check(path, ch, data, depth)
        if ok is None:
            skipped += 1
        elif not ok:
            raise SystemExit('PIL decodes %s differently from the expected pixels' % name)
        else:
            checked += 1
    # One file from a real encoder (PIL, adaptive filters), if available.
    try:
        from PIL import Image
        im = Image.new('RGB', (20, 15))
        im.putdata([((x * 13) % 256, (y * 17) % 256, (x * y) % 256) for y in range(15)
                    for x in range(20)])
        path = os.path.join(args.out, 'pil_rgb.png')
        im.save(path, optimize=True)
        with open(os.path.join(args.out, 'pil_rgb.bin'), 'wb') as f:
            f.write(Image.open(path).convert('RGB').tobytes())
        manifest.append('pil_rgb 20 15 3')
    except ImportError:
        pass
    write_streams(args.out)
    with open(os.path.join(args.out, 'manifest.txt'), 'w') as f:
        f.write('\n'.join(manifest) + '\n')
    print('wrote %d images to %s (%d cross-checked with PIL, %d not)' %
          (len(manifest), args.out, checked, skipped))


if __name__ == '__main__':
    main()
