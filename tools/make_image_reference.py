#!/usr/bin/python3
"""Generate the committed test data for include/ctnn/io/image.hpp (tests/test_image.cpp).

Writes into tests/data/images/:
  * small synthetic test images (gradients and shapes, each < 60 KB):
      synthetic_320x240.jpg   RGB JPEG, landscape, upscaled by Resize(256)
      synthetic_300x400.png   RGB PNG, portrait, downscaled (antialiased) by Resize(256)
      gray_40x30.png          8-bit grayscale PNG (channel expansion, strong upscaling)
      rgba_64x48.png          RGBA PNG with varying alpha (alpha must be dropped, not blended)
      jpeg_*.jpg              tiny JPEGs covering the decoder's other paths: 4:2:2 progressive,
                              4:4:4, greyscale, CMYK, and a 3 x 5 image (too narrow for fancy
                              upsampling)
  * the torchvision-preprocessed tensors, raw little-endian float32 in C order (CHW), one .bin per
    case, and reference.json describing every case (source image, transform, parameters, shape);
  * for the jpeg_*.jpg files, PIL's decoded pixels as raw uint8 in HWC order (*.pixels.bin; CMYK
    converted to RGB by PIL);
  * malformed inputs every loader must reject with ctnn::Error:
      not_an_image.jpg        a text file with an image extension
      truncated.jpg           the first half of synthetic_320x240.jpg (no EOI marker)
      truncated.png           the first half of synthetic_300x400.png (no IEND chunk)
      empty.png               zero bytes
      zero_width.png          a well-formed PNG whose header says 0 x 16 pixels
      huge_dimensions.png     a well-formed PNG header claiming 200000 x 200000 pixels

The reference follows what a PyTorch user writes:
  Image.open(path).convert("RGB") -> Resize(resize) -> CenterCrop(crop) -> ToTensor()
      -> Normalize(mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225])
  Image.open(path).convert("L") -> Resize((size, size)) -> ToTensor() -> Normalize([0.2860], [0.3530])

Run from the repository root with the system interpreter (Pillow, torch, torchvision):
  /usr/bin/python3 tools/make_image_reference.py
The output is deterministic for a given Pillow/libjpeg version; reference.json records the versions.
"""

import io  # io.BytesIO: encode PNG bytes in memory to truncate them
import json  # json.dump: reference.json
import struct  # struct.pack: hand-made PNG chunks
import zlib  # zlib.crc32, zlib.compress: hand-made PNG chunks
from pathlib import Path  # Path: output locations

import numpy as np  # numpy: synthetic pixel arrays, float32 dumps
import PIL  # PIL.__version__: recorded in reference.json
import torch  # torch.__version__: recorded in reference.json
import torchvision  # torchvision.__version__: recorded in reference.json
from PIL import Image, ImageDraw, features  # Image, ImageDraw: synthetic images; features: libjpeg version
from torchvision import transforms  # transforms: the reference pipelines

REPO_ROOT = Path(__file__).resolve().parent.parent
OUT_DIR = REPO_ROOT / "tests" / "data" / "images"

IMAGENET_MEAN = [0.485, 0.456, 0.406]
IMAGENET_STD = [0.229, 0.224, 0.225]
FASHION_MEAN = 0.2860
FASHION_STD = 0.3530
MAX_IMAGE_BYTES = 60 * 1024


def gradient_background(width, height):
    """Smooth RGB ramps in three directions: exercises interpolation over the whole value range."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    red = 255.0 * x / (width - 1)
    green = 255.0 * y / (height - 1)
    blue = 127.5 + 127.5 * np.sin((x + 2.0 * y) / 23.0)
    return np.stack([red, green, blue], axis=-1).round().clip(0, 255).astype(np.uint8)


def draw_shapes(image, scale):
    """Hard-edged shapes: exercise the filter where neighbouring pixels differ by up to 255."""
    draw = ImageDraw.Draw(image)
    s = scale
    draw.ellipse([int(30 * s), int(25 * s), int(140 * s), int(120 * s)], fill=(250, 240, 20), outline=(0, 0, 0), width=3)
    draw.rectangle([int(170 * s), int(40 * s), int(290 * s), int(110 * s)], fill=(20, 30, 200))
    draw.polygon([(int(60 * s), int(220 * s)), (int(160 * s), int(140 * s)), (int(260 * s), int(225 * s))], fill=(200, 20, 40))
    for i in range(8):  # one-pixel lines: the worst case for aliasing
        draw.line([(int(200 * s) + 6 * i, int(130 * s)), (int(230 * s) + 6 * i, int(230 * s))], fill=(255, 255, 255), width=1)
    draw.rectangle([0, 0, image.width - 1, image.height - 1], outline=(10, 200, 10), width=2)  # edges
    return image


def make_test_images():
    jpeg = draw_shapes(Image.fromarray(gradient_background(320, 240), "RGB"), 1.0)
    jpeg.save(OUT_DIR / "synthetic_320x240.jpg", quality=90)  # Pillow default: 4:2:0 chroma subsampling

    png = draw_shapes(Image.fromarray(gradient_background(300, 400), "RGB"), 1.0)
    # Coarse colour steps keep the PNG small (smooth 8-bit ramps compress poorly) while still
    # having every pixel differ from its neighbours.
    png = Image.fromarray((np.asarray(png) // 4 * 4).astype(np.uint8), "RGB")
    png.save(OUT_DIR / "synthetic_300x400.png", optimize=True)

    y, x = np.mgrid[0:30, 0:40]
    gray = ((x * 7 + y * 3) % 256).astype(np.uint8)
    gray[10:20, 15:25] = 255 - gray[10:20, 15:25]
    Image.fromarray(gray, "L").save(OUT_DIR / "gray_40x30.png")

    y, x = np.mgrid[0:48, 0:64]
    rgba = np.stack([x * 4, y * 5, 255 - x * 3, (x + y) * 2], axis=-1).clip(0, 255).astype(np.uint8)
    Image.fromarray(rgba, "RGBA").save(OUT_DIR / "rgba_64x48.png")


# (file name, PIL mode, width, height, save options): one per JPEG decoding path besides the 4:2:0
# baseline of synthetic_320x240.jpg.
JPEG_VARIANTS = [
    ("jpeg_422_progressive_61x47.jpg", "RGB", 61, 47, {"quality": 85, "subsampling": 1, "progressive": True}),
    ("jpeg_444_37x29.jpg", "RGB", 37, 29, {"quality": 90, "subsampling": 0}),
    ("jpeg_gray_45x23.jpg", "L", 45, 23, {"quality": 75}),
    ("jpeg_420_3x5.jpg", "RGB", 3, 5, {"quality": 95, "subsampling": 2}),
    ("jpeg_cmyk_29x21.jpg", "CMYK", 29, 21, {"quality": 85}),  # decoded as PIL converts CMYK to RGB
]


def make_jpeg_variants():
    pixel_cases = []
    for name, mode, width, height, options in JPEG_VARIANTS:
        image = draw_shapes(Image.fromarray(gradient_background(width, height), "RGB"), width / 320.0)
        image.convert(mode).save(OUT_DIR / name, **options)
        decoded_image = Image.open(OUT_DIR / name)
        if decoded_image.mode == "CMYK":
            decoded_image = decoded_image.convert("RGB")  # what ctnn::image::decode gives for CMYK
        decoded = np.asarray(decoded_image)  # PIL/libjpeg-turbo pixels, HWC (HW for "L")
        pixel_file = name.rsplit(".", 1)[0] + ".pixels.bin"
        (OUT_DIR / pixel_file).write_bytes(decoded.astype(np.uint8).tobytes(order="C"))
        channels = 1 if decoded.ndim == 2 else decoded.shape[2]
        pixel_cases.append({"image": name, "file": pixel_file, "dtype": "uint8", "layout": "HWC",
                            "shape": [height, width, channels], "save_options": options})
    return pixel_cases


def png_chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_with_header(width, height):
    """A structurally complete PNG (signature, IHDR, IDAT, IEND) with arbitrary header dimensions."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB, no interlace
    return (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", zlib.compress(b"\x00"))
            + png_chunk(b"IEND", b""))


def make_malformed_files():
    (OUT_DIR / "not_an_image.jpg").write_text("This is a text file, not a JPEG image.\n")
    (OUT_DIR / "empty.png").write_bytes(b"")
    jpeg_bytes = (OUT_DIR / "synthetic_320x240.jpg").read_bytes()
    (OUT_DIR / "truncated.jpg").write_bytes(jpeg_bytes[: len(jpeg_bytes) // 2])
    png_bytes = (OUT_DIR / "synthetic_300x400.png").read_bytes()
    (OUT_DIR / "truncated.png").write_bytes(png_bytes[: len(png_bytes) // 2])
    (OUT_DIR / "zero_width.png").write_bytes(png_with_header(0, 16))
    (OUT_DIR / "huge_dimensions.png").write_bytes(png_with_header(200000, 200000))


def imagenet_transform(resize, crop):
    return transforms.Compose([
        transforms.Resize(resize),
        transforms.CenterCrop(crop),
        transforms.ToTensor(),
        transforms.Normalize(mean=IMAGENET_MEAN, std=IMAGENET_STD),
    ])


def grayscale_transform(size, mean, std):
    return transforms.Compose([
        transforms.Resize((size, size)),
        transforms.ToTensor(),
        transforms.Normalize(mean=[mean], std=[std]),
    ])


# (image, kind, parameters): kept small; 3x224x224 float32 is 588 KiB, so only the two main images
# use the default ImageNet geometry.
CASES = [
    ("synthetic_320x240.jpg", "imagenet", {"resize_shorter": 256, "crop": 224}),
    ("synthetic_320x240.jpg", "grayscale", {"size": 28, "mean": FASHION_MEAN, "std": FASHION_STD}),
    ("synthetic_300x400.png", "imagenet", {"resize_shorter": 256, "crop": 224}),
    ("synthetic_300x400.png", "imagenet", {"resize_shorter": 64, "crop": 80}),  # crop > image: zero padding
    ("synthetic_300x400.png", "grayscale", {"size": 28, "mean": FASHION_MEAN, "std": FASHION_STD}),
    ("gray_40x30.png", "imagenet", {"resize_shorter": 96, "crop": 80}),
    ("gray_40x30.png", "grayscale", {"size": 28, "mean": FASHION_MEAN, "std": FASHION_STD}),
    ("rgba_64x48.png", "imagenet", {"resize_shorter": 40, "crop": 36}),
    ("rgba_64x48.png", "grayscale", {"size": 20, "mean": 0.5, "std": 0.25}),
]


def case_file_name(image_name, kind, params):
    stem = image_name.rsplit(".", 1)[0]
    if kind == "imagenet":
        return f"{stem}.imagenet_{params['resize_shorter']}_{params['crop']}.bin"
    return f"{stem}.grayscale_{params['size']}.bin"


def make_references(pixel_cases):
    cases = []
    for image_name, kind, params in CASES:
        source = Image.open(OUT_DIR / image_name)
        if kind == "imagenet":
            tensor = imagenet_transform(params["resize_shorter"], params["crop"])(source.convert("RGB"))
        else:
            tensor = grayscale_transform(params["size"], params["mean"], params["std"])(source.convert("L"))
        array = tensor.numpy().astype("<f4")
        file_name = case_file_name(image_name, kind, params)
        (OUT_DIR / file_name).write_bytes(array.tobytes(order="C"))
        cases.append({"image": image_name, "transform": kind, "parameters": params,
                      "file": file_name, "dtype": "float32 little-endian", "layout": "CHW",
                      "shape": list(array.shape)})
    manifest = {
        "generator": "tools/make_image_reference.py",
        "versions": {"Pillow": PIL.__version__, "libjpeg-turbo": features.version_feature("libjpeg_turbo"),
                     "torch": torch.__version__, "torchvision": torchvision.__version__},
        "imagenet_transform": "Image.open(p).convert('RGB'); Resize(resize_shorter); CenterCrop(crop); ToTensor(); "
                              f"Normalize(mean={IMAGENET_MEAN}, std={IMAGENET_STD})",
        "grayscale_transform": "Image.open(p).convert('L'); Resize((size, size)); ToTensor(); Normalize([mean], [std])",
        "cases": cases,
        "decoded_pixels": pixel_cases,
    }
    with open(OUT_DIR / "reference.json", "w") as out:
        json.dump(manifest, out, indent=2)
        out.write("\n")


def main():
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    make_test_images()
    make_malformed_files()
    make_references(make_jpeg_variants())
    test_images = ["synthetic_320x240.jpg", "synthetic_300x400.png", "gray_40x30.png", "rgba_64x48.png"]
    for name in test_images + [variant[0] for variant in JPEG_VARIANTS]:
        size = (OUT_DIR / name).stat().st_size
        assert size < MAX_IMAGE_BYTES, f"{name} is {size} bytes, keep test images under {MAX_IMAGE_BYTES}"
        print(f"{name}: {size} bytes")


if __name__ == "__main__":
    main()
