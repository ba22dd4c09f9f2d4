"""Writes the fuzzers' seed corpora from the test suite's own inputs:
tests/e2e/data/api-bodies.jsonl (API bodies), tests/e2e/data/ssrf-urls.txt
(URLs and addresses) and tests/e2e/bombs.py plus small versions of the
shipped photos (images). Usage: seeds.py OUTDIR"""
import ipaddress
import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "e2e"))
import bombs  # noqa: E402

DATA = ROOT / "tests" / "e2e" / "data"


def write(d, name, data):
    d.mkdir(parents=True, exist_ok=True)
    (d / name).write_bytes(data)


def main(out):
    out = pathlib.Path(out)
    lines = [l for l in (DATA / "api-bodies.jsonl").read_text().splitlines()
             if l and not l.startswith("#")]
    for i, l in enumerate(lines):
        write(out / "fuzz_api", f"body-{i:03d}.json", l.encode())

    urls = [l.replace("{P}", "8080") for l in (DATA / "ssrf-urls.txt").read_text().splitlines()
            if l and not l.startswith("#")]
    urls += ["https://photos.example.com/a.jpg", "http://93.184.216.34/b.png",
             "127.0.0.1/32,::1/128,10.0.0.0/8"]
    for i, u in enumerate(urls):
        write(out / "fuzz_url", f"url-{i:03d}.txt", u.encode())
        host = u.split("//", 1)[-1].split("/", 1)[0].rsplit("@", 1)[-1]
        host = host.rsplit(":", 1)[0] if not host.startswith("[") else host[1:host.find("]")]
        try:
            write(out / "fuzz_url", f"addr-{i:03d}.bin",
                  ipaddress.ip_address(host.split("%")[0]).packed)
        except ValueError:
            pass

    work = out / "work"
    for name, data in bombs.all_bombs(work).items():
        write(out / "fuzz_image", name, data[:200000])
    for photo in sorted((ROOT / "photos").glob("*.jp*g"))[:3] + [ROOT / "photos" / "coffee.png"]:
        for ext in ("jpg", "png", "webp"):
            dst = work / f"{photo.stem}-small.{ext}"
            subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(photo), "-vf",
                            "scale=160:-2", str(dst)], check=True)
            write(out / "fuzz_image", dst.name, dst.read_bytes())
        heic = work / f"{photo.stem}-small.heic"
        subprocess.run(["heif-enc", "-q", "50", "-o", str(heic),
                        str(work / f"{photo.stem}-small.jpg")], check=True, capture_output=True)
        write(out / "fuzz_image", heic.name, heic.read_bytes())


if __name__ == "__main__":
    main(sys.argv[1])
