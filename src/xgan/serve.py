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

One client cannot exhaust the server: its decoded pixels are reserved from the image header against a budget
shared by all requests (PixelBudget: 503 when full), decodes run in at most MAX_DECODES worker threads so the
event loop keeps answering, the body must arrive within BODY_TIMEOUT (408) and each request's headers within
HEADER_TIMEOUT (HeaderDeadlineProtocol closes the connection), and a client that leaves mid-upload costs one
log line.
"""

from __future__ import annotations

import asyncio
import base64
import io
import logging
import math
import os
import threading
import warnings
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from importlib.resources import files

import anyio
import torch
import uvicorn
from fastapi import FastAPI, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response
from PIL import Image, ImageOps, UnidentifiedImageError
from starlette.requests import ClientDisconnect
from uvicorn.protocols.http.h11_impl import H11Protocol

from xgan.api import Translator
from xgan.data.images import resize_image, to_rgb
from xgan.data.task import spread_indices
from xgan.models.base import other
from xgan.samples import to_pil

MAX_UPLOAD_BYTES = 10 * 2 ** 20
MAX_PIXELS = 4096 * 4096  # refused before decoding: a 50 kB PNG can otherwise expand to gigabytes
MAX_PIXELS_IN_FLIGHT = 4 * MAX_PIXELS  # all requests together: four largest images, ~200 MB decoded as RGB
MAX_DECODES = min(4, os.cpu_count() or 1)  # decoding is CPU-bound: more threads than cores only add memory
HEADER_TIMEOUT = 10.0  # seconds for a request's headers, from connecting or from the previous answer
BODY_TIMEOUT = 30.0  # seconds for the whole body: 10 MB needs ~350 kB/s
ALLOWED_FORMATS = ("PNG", "JPEG", "GIF", "BMP", "WEBP", "TIFF")
SAMPLES_PER_DOMAIN = 8
NEIGHBORS = 6
STYLE_SAMPLES = 6  # translations under random styles shown for a multimodal model

log = logging.getLogger(__name__)


def png_bytes(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def png_data_url(image: Image.Image) -> str:
    return "data:image/png;base64," + base64.b64encode(png_bytes(image)).decode()


def open_upload(data: bytes) -> Image.Image:
    """The uploaded bytes opened by Pillow, which reads only the header: type and size checked, not decoded yet;
    an HTTPException says what is wrong with them."""
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
    return image


def decode_image(image: Image.Image) -> Image.Image:
    """An opened upload decoded to RGB (the slow, memory-hungry step), or an HTTPException if it is corrupt."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image.load()
            ImageOps.exif_transpose(image, in_place=True)  # in place: a copy would double the decoded pixels
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombWarning, Image.DecompressionBombError) as e:
        raise HTTPException(415, f"the image could not be decoded ({e or type(e).__name__})") from None
    return to_rgb(image)


class PixelBudget:
    """The decoded pixels of all requests in flight, each reserved from its image's header before decoding.

    A reservation that does not fit is refused at once with 503 Service Unavailable and a Retry-After header,
    not 429 Too Many Requests: the limit is the server's memory, shared by every client, not one client's request
    rate; and refusing rather than queueing keeps waiting uploads from holding memory. Used only on the event
    loop, so the counter needs no lock.
    """

    def __init__(self, limit: int) -> None:
        self.limit, self.used = limit, 0

    @contextmanager
    def reserve(self, pixels: int) -> Iterator[None]:
        if self.used + pixels > self.limit:
            raise HTTPException(503, f"server busy: images of {self.used:,} pixels are being processed, and this "
                                     f"one's {pixels:,} would pass the limit of {self.limit:,}; retry shortly",
                                headers={"Retry-After": "2"})
        self.used += pixels
        try:
            yield
        finally:
            self.used -= pixels


async def read_limited(request: Request, timeout: float = BODY_TIMEOUT) -> bytes:
    """The request body, refused as soon as it (or its declared length) passes MAX_UPLOAD_BYTES, or when it has
    not all arrived within `timeout` seconds."""
    limit = MAX_UPLOAD_BYTES
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise HTTPException(413, f"upload of {int(declared):,} bytes is above the limit of {limit:,} bytes")
    body = bytearray()
    try:
        with anyio.fail_after(timeout):
            async for chunk in request.stream():
                body += chunk
                if len(body) > limit:
                    raise HTTPException(413, f"upload is above the limit of {limit:,} bytes")
    except TimeoutError:
        # Connection: close, or a stalled client would keep the connection once answered
        raise HTTPException(408, f"the upload did not arrive within {timeout:g} s ({len(body):,} bytes came)",
                            headers={"Connection": "close"}) from None
    return bytes(body)


def spread_samples(index, domain: str, count: int = SAMPLES_PER_DOMAIN) -> torch.Tensor:
    """`count` test images of `domain` spread through its split (test splits may be sorted by class)."""
    members = [i for i, d in enumerate(index.domains) if d == domain]
    return index.images[[members[j] for j in spread_indices(len(members), count)]]


def create_app(translator: Translator, domain_names: dict[str, str] | None = None, index_size: int = 2000,
               max_pixels_in_flight: int = MAX_PIXELS_IN_FLIGHT, max_decodes: int = MAX_DECODES,
               body_timeout: float = BODY_TIMEOUT) -> FastAPI:
    """The demo app around one translator; neighbours come from up to `index_size` test images per domain."""
    names = domain_names or {"a": "A", "b": "B"}
    model_lock = threading.Lock()  # one model call at a time: torch already uses every core for each
    pixels = PixelBudget(max_pixels_in_flight)
    decoders = anyio.CapacityLimiter(max_decodes)
    searchable = translator.model.has_embedding
    index = translator.embedding_index(index_size) if searchable else None
    samples = {d: spread_samples(index, d) for d in ("a", "b")} if searchable else {}
    app = FastAPI(title="xgan demo", docs_url=None, redoc_url=None)
    app.state.pixels, app.state.decoders = pixels, decoders

    @app.exception_handler(ClientDisconnect)
    async def client_left(request: Request, exc: ClientDisconnect) -> Response:
        # nobody is left to read an answer; without this handler uvicorn logs a long traceback per disconnect
        client = f"{request.client.host}:{request.client.port}" if request.client else "a client"
        log.info("%s disconnected during its upload to %s", client, request.url.path)
        return Response(status_code=400)

    @app.get("/", response_class=HTMLResponse)
    def page() -> str:
        return files("xgan.web").joinpath("index.html").read_text()

    @app.get("/api/info")
    async def info() -> dict:  # async: answered on the event loop even when every worker thread is busy
        return {"model": translator.config.model.name, "task": translator.config.data.task, "domains": names,
                "directions": list(translator.model.directions), "image_size": translator.image_size,
                "max_upload_bytes": MAX_UPLOAD_BYTES, "max_pixels": MAX_PIXELS, "max_pixels_in_flight": pixels.limit,
                "samples": {d: len(s) for d, s in samples.items()}, "style_dim": translator.model.style_dim,
                "reference_style": translator.model.has_reference_style}

    @app.get("/api/sample/{domain}/{i}")
    def sample(domain: str, i: int) -> Response:
        if domain not in samples or not 0 <= i < len(samples[domain]):
            raise HTTPException(404, f"no sample {domain}/{i}")
        return Response(png_bytes(to_pil(samples[domain][i])), media_type="image/png")

    def parse_style(text: str | None) -> torch.Tensor | None:
        """A style code from the query: style_dim comma-separated finite numbers (what /api/style answers)."""
        if text is None:
            return None
        dim = translator.model.style_dim
        if not dim:
            raise HTTPException(400, f"this {translator.config.model.name} model has no style codes")
        try:
            code = [float(v) for v in text.split(",")]
        except ValueError:
            code = []
        if len(code) != dim or not all(math.isfinite(v) for v in code):
            raise HTTPException(400, f"style must be {dim} comma-separated finite numbers, not {text[:80]!r}")
        return torch.tensor([code])

    def work(image: Image.Image, to: str, style: torch.Tensor | None = None) -> dict:
        source = other(to)
        with model_lock:
            translation = translator.translate(image, to=to, size="model", style=style)
            neighbours = translator.neighbors(image, source, NEIGHBORS) if searchable else []
            styled = []  # a multimodal model's row of random styles, the same styles for every upload
            if translator.model.style_dim:
                styles = translator.sample_style(STYLE_SAMPLES, to, seed=0)
                styled = translator.translate([image] * STYLE_SAMPLES, to=to, size="model", style=styles)
        shown = Image.fromarray(resize_image(image, translator.image_size))  # the input as the model sees it
        return {"to": to, "input": png_data_url(shown), "translation": png_data_url(translation),
                "styles": [png_data_url(picture) for picture in styled],
                "neighbors": [{"domain": n.domain, "domain_name": names[n.domain], "index": n.index,
                               "distance": round(n.distance, 4), "image": png_data_url(n.image)} for n in neighbours]}

    def style_work(image: Image.Image, domain: str) -> torch.Tensor:
        with model_lock:
            return translator.style_of(image, domain)[0]

    @asynccontextmanager
    async def uploaded(request: Request) -> AsyncIterator[Image.Image]:
        """The request's image, decoded in a worker thread; its pixels count against the budget until the block
        ends, so the decoded image is dropped before they are released."""
        image = open_upload(await read_limited(request, body_timeout))
        with pixels.reserve(image.width * image.height):
            yield await anyio.to_thread.run_sync(decode_image, image, limiter=decoders)

    @app.post("/api/translate")
    async def translate(request: Request, to: str = "b", style: str | None = None) -> dict:
        """The upload translated (under `style`, a code from /api/style, if given), with the neighbours and a
        multimodal model's row of random styles."""
        if to not in translator.model.directions:
            raise HTTPException(400, f"'to' must be one of {list(translator.model.directions)}, not {to!r}")
        code = parse_style(style)
        async with uploaded(request) as image:
            return await run_in_threadpool(work, image, to, code)

    @app.post("/api/style")
    async def reference_style(request: Request, domain: str = "b") -> dict:
        """The style code of an uploaded reference image of `domain` (reference-guided translation: pass it to
        /api/translate as `style`)."""
        if not translator.model.has_reference_style:
            raise HTTPException(400, f"this {translator.config.model.name} model cannot read a style from an image")
        if domain not in ("a", "b"):
            raise HTTPException(400, f"'domain' must be 'a' or 'b', not {domain!r}")
        async with uploaded(request) as image:
            code = await run_in_threadpool(style_work, image, domain)
        return {"domain": domain, "style": [round(float(v), 6) for v in code]}

    return app


class HeaderDeadlineProtocol(H11Protocol):
    """uvicorn's h11 protocol, closing a connection whose next request's headers are not all in after
    `header_timeout` seconds (from connecting, or from the previous answer).

    uvicorn has no such limit: its only timer, timeout_keep_alive, is armed after an answer and cancelled by any
    byte received, and nothing is armed when a connection opens, so a client sending a header line now and then
    holds the connection forever (slowloris); h11_max_incomplete_event_size bounds the headers' size, not their
    time. The body's deadline is the app's (read_limited), so the timer is off while a request is being answered;
    once answered early (413 before the whole body) the rest of the body is under this deadline too.
    """

    header_timeout: float = HEADER_TIMEOUT

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        self.header_timer = None
        super().connection_made(transport)
        self.arm_header_timer()

    def on_response_complete(self) -> None:
        self.arm_header_timer()  # first: the super call handles pipelined requests, which disarm it
        super().on_response_complete()

    def handle_events(self) -> None:
        super().handle_events()
        if self.answering():
            self.disarm_header_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self.disarm_header_timer()
        super().connection_lost(exc)

    def answering(self) -> bool:
        return self.cycle is not None and not self.cycle.response_complete

    def arm_header_timer(self) -> None:
        self.disarm_header_timer()
        self.header_timer = self.loop.call_later(self.header_timeout, self.header_deadline_passed)

    def disarm_header_timer(self) -> None:
        if self.header_timer is not None:
            self.header_timer.cancel()
            self.header_timer = None

    def header_deadline_passed(self) -> None:
        self.header_timer = None
        if not self.answering() and not self.transport.is_closing():
            log.debug("closed a connection from %s: no complete request in %g s", self.client, self.header_timeout)
            self.transport.close()


def server_config(app: FastAPI, host: str = "127.0.0.1", port: int = 7860, header_timeout: float = HEADER_TIMEOUT,
                  **options) -> uvicorn.Config:
    """uvicorn's settings for the demo, with the header deadline; `options` go to uvicorn.Config."""
    protocol = type("HeaderDeadlineProtocol", (HeaderDeadlineProtocol,), {"header_timeout": header_timeout})
    return uvicorn.Config(app, host=host, port=port, http=protocol, **options)


def serve(checkpoint: str, host: str = "127.0.0.1", port: int = 7860, device: str = "auto",
          header_timeout: float = HEADER_TIMEOUT, body_timeout: float = BODY_TIMEOUT) -> None:
    from xgan import api
    from xgan.evaluation.evaluate import DOMAIN_NAMES

    translator = api.load(checkpoint, device)
    if not translator.model.directions:
        raise ValueError(f"{checkpoint}: a {translator.config.model.name} model generates from noise and translates "
                         f"nothing, so there is no demo to serve; xgan sample {checkpoint} -n 64 draws a grid")
    torch.set_grad_enabled(False)
    app = create_app(translator, DOMAIN_NAMES.get(translator.config.data.task), body_timeout=body_timeout)
    print(f"xgan demo of {translator.snapshot} on http://{host}:{port}/  (Ctrl+C stops it)")
    uvicorn.Server(server_config(app, host, port, header_timeout, log_level="warning")).run()
