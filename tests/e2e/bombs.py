"""Hostile and broken image files for the hardening tests and the fuzzers'
seeds: headers that claim enormous sizes, a PNG of thousands of chunks,
truncated and corrupted JPEG/PNG/WebP/HEIC files and bytes that are no image.
Every file is made here from the shipped photos, so nothing is stored."""
import pathlib
import struct
import subprocess
import zlib

ROOT = pathlib.Path(__file__).resolve().parents[2]
PHOTO = ROOT / "photos" / "Bridge_by_Sander_Klootwijk.jpg"


def _chunk(kind, data):
    return (struct.pack(">I", len(data)) + kind + data +
            struct.pack(">I", zlib.crc32(kind + data) & 0xffffffff))


def png(w, h, rows=None, extra=()):
    """A PNG of w x h grey pixels (rows of zeros unless given), with extra
    chunks (kind, data) before the image data."""
    ihdr = struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0)
    if rows is None:
        rows = b"".join(b"\0" + b"\0" * w for _ in range(h))
    out = b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr)
    for kind, data in extra:
        out += _chunk(kind, data)
    return out + _chunk(b"IDAT", zlib.compress(rows, 9)) + _chunk(b"IEND", b"")


def png_huge_header(w=65535, h=65535):
    """Claims w x h; the image data is one tiny deflate stream of zeros."""
    ihdr = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
    z = zlib.compressobj(9)
    idat = z.compress(b"\0" * (1 << 20)) + z.flush()
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", idat) +
            _chunk(b"IEND", b""))


def png_deflate_bomb(side=20000):
    """side x side zeros: ~1.2 GB of pixels in ~1 MB of file."""
    z = zlib.compressobj(9)
    row = b"\0" * (side + 1)
    idat = b"".join(z.compress(row) for _ in range(side)) + z.flush()
    ihdr = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", idat) +
            _chunk(b"IEND", b""))


def jpeg_huge_header(jpeg, w=65500, h=65500):
    """A real JPEG whose SOF marker claims w x h."""
    b = bytearray(jpeg)
    i = 2
    while i < len(b) - 9:
        if b[i] != 0xFF:
            break
        marker, seglen = b[i + 1], struct.unpack(">H", b[i + 2:i + 4])[0]
        if marker in (0xC0, 0xC1, 0xC2):
            b[i + 5:i + 9] = struct.pack(">HH", h, w)
            return bytes(b)
        i += 2 + seglen
    raise ValueError("no SOF marker")


def webp_huge_header():
    """A lossless WebP (VP8L) header claiming 16384 x 16384."""
    bits = (16383) | (16383 << 14)  # width-1, height-1, alpha 0, version 0
    vp8l = b"\x2f" + struct.pack("<I", bits) + b"\0" * 32
    body = b"WEBP" + b"VP8L" + struct.pack("<I", len(vp8l)) + vp8l
    return b"RIFF" + struct.pack("<I", len(body)) + body


def corrupt(data, start=None, stop=None, every=97, value=0xA5):
    """Flips bits in one byte of every `every` from start (default: 30% into
    the file, in the compressed pixels) to stop."""
    b = bytearray(data)
    start = int(len(b) * 0.3) if start is None else start
    for i in range(start, len(b) if stop is None else stop, every):
        b[i] ^= value
    return bytes(b)


def _convert(tmp, ext, *args):
    out = tmp / f"bridge.{ext}"
    if not out.exists():
        subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(PHOTO), "-vf", "scale=640:-2",
                        *args, str(out)], check=True)
    return out.read_bytes()


def _heic(tmp):
    jpg = tmp / "bridge-small.jpg"
    out = tmp / "bridge.heic"
    if not out.exists():
        subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(PHOTO), "-vf", "scale=640:-2",
                        str(jpg)], check=True)
        subprocess.run(["heif-enc", "-q", "60", "-o", str(out), str(jpg)], check=True,
                       capture_output=True)
    return out.read_bytes()


def all_bombs(tmp):
    """{name: bytes}: every hostile or broken file."""
    tmp = pathlib.Path(tmp)
    tmp.mkdir(parents=True, exist_ok=True)
    jpg = PHOTO.read_bytes()
    pngb = _convert(tmp, "png")
    webp = _convert(tmp, "webp")
    heic = _heic(tmp)
    text = [(b"tEXt", b"k\0" + str(i).encode()) for i in range(5000)]
    return {
        "png-65535x65535.png": png_huge_header(),
        "png-20000x20000-deflate-bomb.png": png_deflate_bomb(),
        "png-5000-chunks.png": png(64, 64, extra=text),
        "jpeg-65500x65500.jpg": jpeg_huge_header(jpg),
        "webp-16384x16384.webp": webp_huge_header(),
        "jpeg-truncated.jpg": jpg[:len(jpg) // 2],
        "jpeg-corrupt.jpg": corrupt(jpg),
        "jpeg-header-only.jpg": jpg[:600],
        "png-truncated.png": pngb[:len(pngb) // 2],
        "png-corrupt.png": corrupt(pngb),
        "webp-truncated.webp": webp[:len(webp) // 2],
        "webp-corrupt.webp": corrupt(webp),
        "heic-truncated.heic": heic[:len(heic) // 2],
        # HEVC has no checksums: corrupt slice data decodes to noise in any
        # reader, so the HEIC is corrupted where it can be told: its boxes.
        "heic-corrupt.heic": corrupt(heic, 40, 400, 7),
        "text.jpg": b"this is not an image\n" * 100,
        "empty.png": b"",
        "html.webp": b"<!doctype html><html><body>404</body></html>",
        "elf.heic": pathlib.Path("/bin/true").read_bytes()[:65536],
        "gif.jpg": b"GIF89a" + b"\x01\x00\x01\x00\x00\x00\x00;",
    }


if __name__ == "__main__":
    import sys
    out = pathlib.Path(sys.argv[1])
    for name, data in all_bombs(out / "work").items():
        (out / name).write_bytes(data)
        print(name, len(data))
