"""`xgan serve`: a local web page to try a trained translator, on FastAPI + uvicorn.

    GET  /                         the page (src/xgan/web/index.html)
    GET  /api/info                 model, task, domain names, image size, sample images
    GET  /api/sample/{domain}/{i}  a test image of the task, PNG
    POST /api/translate?to=b       body: the image file's bytes -> JSON: input, translation, neighbours (PNG data URLs)

Why FastAPI: request validation and errors as JSON for free, an ASGI server (uvicorn) that holds many concurrent
connections while model calls queue in a thread pool, and a test client; Gradio would bring a large front-end
stack and hide the upload checks this page needs. The body is read as a stream and refused past the byte limit,
then checked by Pillow for type and pixel count before any decoding: non-images, huge images and decompression
bombs get a clear 4xx message.
"""

from __future__ import annotations

import base64
import io
import threading
import warnings
from importlib.resources import files

import torch
from fastapi import FastAPI, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response
from PIL import Image, ImageOps, UnidentifiedImageError

from xgan.api import Translator
from xgan.data.images import to_rgb
from xgan.data.task import spread_indices
from xgan.models.base import other
from xgan.samples import to_pil

MAX_UPLOAD_BYTES = 10 * 2 ** 20
MAX_PIXELS = 4096 * 4096  # refused before decoding: a 50 kB PNG can otherwise expand to gigabytes
ALLOWED_FORMATS = ("PNG", "JPEG", "GIF", "BMP", "WEBP", "TIFF")
SAMPLES_PER_DOMAIN = 8
NEIGHBORS = 6


def png_bytes(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def png_data_url(image: Image.Image) -> str:
    return "data:image/png;base64," + base64.b64encode(png_bytes(image)).decode()


def decode_upload(data: bytes) -> Image.Image:
    """The uploaded bytes as an RGB image, or an HTTPException saying what is wrong with them."""
    if not data:
        raise HTTPException(400, "empty upload: send the image file's bytes as the request body")
    try:
        image = Image.open(io.BytesIO(data))
    except Image.DecompressionBombError as e:
        raise HTTPException(413, f"image is above the limit of {MAX_PIXELS:,} pixels ({e})") from None
    except (UnidentifiedImageError, OSError, ValueError):
        raise HTTPException(415, f"not an image Pillow can read (accepted: {', '.join(ALLOWED_FORMATS)})") from None
    if image.format not in ALLOWED_FORMATS:
        raise HTTPException(415, f"{image.format} images are not accepted (accepted: {', '.join(ALLOWED_FORMATS)})")
    width, height = image.size
    if width * height > MAX_PIXELS:
        raise HTTPException(413, f"image is {width}x{height} pixels, above the limit of {MAX_PIXELS:,} pixels")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = ImageOps.exif_transpose(image)
            image.load()
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombWarning, Image.DecompressionBombError) as e:
        raise HTTPException(415, f"the image could not be decoded ({e or type(e).__name__})") from None
    return to_rgb(image)


async def read_limited(request: Request) -> bytes:
    """The request body, refused as soon as it (or its declared length) passes MAX_UPLOAD_BYTES."""
    limit = MAX_UPLOAD_BYTES
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise HTTPException(413, f"upload of {int(declared):,} bytes is above the limit of {limit:,} bytes")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise HTTPException(413, f"upload is above the limit of {limit:,} bytes")
    return bytes(body)


def spread_samples(index, domain: str, count: int = SAMPLES_PER_DOMAIN) -> torch.Tensor:
    """`count` test images of `domain` spread through its split (test splits may be sorted by class)."""
    members = [i for i, d in enumerate(index.domains) if d == domain]
    return index.images[[members[j] for j in spread_indices(len(members), count)]]


def create_app(translator: Translator, domain_names: dict[str, str] | None = None, index_size: int = 2000) -> FastAPI:
    """The demo app around one translator; neighbours come from up to `index_size` test images per domain."""
    names = domain_names or {"a": "A", "b": "B"}
    model_lock = threading.Lock()  # one model call at a time: torch already uses every core for each
    searchable = translator.model.has_embedding
    index = translator.embedding_index(index_size) if searchable else None
    samples = {d: spread_samples(index, d) for d in ("a", "b")} if searchable else {}
    app = FastAPI(title="xgan demo", docs_url=None, redoc_url=None)

    @app.get("/", response_class=HTMLResponse)
    def page() -> str:
        return files("xgan.web").joinpath("index.html").read_text()

    @app.get("/api/info")
    def info() -> dict:
        return {"model": translator.config.model.name, "task": translator.config.data.task, "domains": names,
                "directions": list(translator.model.directions), "image_size": translator.image_size,
                "max_upload_bytes": MAX_UPLOAD_BYTES, "max_pixels": MAX_PIXELS,
                "samples": {d: len(s) for d, s in samples.items()}}

    @app.get("/api/sample/{domain}/{i}")
    def sample(domain: str, i: int) -> Response:
        if domain not in samples or not 0 <= i < len(samples[domain]):
            raise HTTPException(404, f"no sample {domain}/{i}")
        return Response(png_bytes(to_pil(samples[domain][i])), media_type="image/png")

    def work(image: Image.Image, to: str) -> dict:
        source = other(to)
        with model_lock:
            translation = translator.translate(image, to=to, size="model")
            neighbours = translator.neighbors(image, source, NEIGHBORS) if searchable else []
        shown = image.resize((translator.image_size,) * 2, Image.BICUBIC)
        return {"to": to, "input": png_data_url(shown), "translation": png_data_url(translation),
                "neighbors": [{"domain": n.domain, "domain_name": names[n.domain], "index": n.index,
                               "distance": round(n.distance, 4), "image": png_data_url(n.image)} for n in neighbours]}

    @app.post("/api/translate")
    async def translate(request: Request, to: str = "b") -> dict:
        if to not in translator.model.directions:
            raise HTTPException(400, f"'to' must be one of {list(translator.model.directions)}, not {to!r}")
        image = decode_upload(await read_limited(request))
        return await run_in_threadpool(work, image, to)

    return app


def serve(checkpoint: str, host: str = "127.0.0.1", port: int = 7860, device: str = "auto") -> None:
    import uvicorn

    from xgan import api
    from xgan.evaluation.evaluate import DOMAIN_NAMES

    translator = api.load(checkpoint, device)
    torch.set_grad_enabled(False)
    app = create_app(translator, DOMAIN_NAMES.get(translator.config.data.task))
    print(f"xgan demo of {translator.snapshot} on http://{host}:{port}/  (Ctrl+C stops it)")
    uvicorn.run(app, host=host, port=port, log_level="warning")
