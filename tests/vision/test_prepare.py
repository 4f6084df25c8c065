"""Making an image ready for the model (src/vision/prepare.py), the image token estimate, and
telling an endpoint's "no image input" refusal from other refusals, on real files."""

from __future__ import annotations

import io

import openai
import pytest
from PIL import Image

from src.conversation.images import image_tokens
from src.errors import ImageInputRefusedError, LLMRequestRefusedError, VisionError
from src.llm.client import translate_error
from src.vision.prepare import UNREADABLE, prepare
from tests.vision.images import noisy_jpeg, picture


def opened(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def test_a_jpeg_the_model_takes_goes_as_it_is() -> None:
    data = picture(1600, 1200)
    image = prepare(data)
    assert image.data is data and not image.reencoded
    assert (image.mime_type, image.width, image.height) == ("image/jpeg", 1600, 1200)


def test_a_large_image_is_shrunk_to_the_longest_side() -> None:
    image = prepare(picture(4000, 1000))
    assert image.reencoded and (image.width, image.height) == (2048, 512)
    assert opened(image.data).format == "JPEG"


def test_a_heavy_file_is_re_encoded_even_within_the_side() -> None:
    data = noisy_jpeg(2000, 2000, quality=100)
    assert len(data) > 4_000_000
    image = prepare(data)
    assert image.reencoded and len(image.data) < len(data)
    assert (image.width, image.height) == (2000, 2000)


def test_formats_the_model_does_not_take_become_jpeg_or_png() -> None:
    tiff = prepare(picture(300, 200, fmt="TIFF"))
    assert (tiff.mime_type, opened(tiff.data).size) == ("image/jpeg", (300, 200))
    alpha = prepare(picture(300, 200, fmt="TIFF", mode="RGBA"))
    assert alpha.mime_type == "image/png" and opened(alpha.data).mode == "RGBA"


def test_an_animated_gif_becomes_a_still_image() -> None:
    frames = [Image.new("RGB", (64, 48), colour) for colour in ("red", "blue")]
    out = io.BytesIO()
    frames[0].save(out, format="GIF", save_all=True, append_images=frames[1:])
    image = prepare(out.getvalue())
    assert image.reencoded and image.mime_type == "image/jpeg"
    assert (image.width, image.height) == (64, 48)


def test_the_exif_orientation_is_applied_when_re_encoding() -> None:
    source = Image.new("RGB", (3000, 1000), "green")
    exif = source.getexif()
    exif[0x0112] = 6  # rotate 90° clockwise to view
    out = io.BytesIO()
    source.save(out, format="JPEG", exif=exif)
    image = prepare(out.getvalue())
    assert (image.width, image.height) == (683, 2048)  # upright, then fitted


@pytest.mark.parametrize(
    "data",
    [b"", b"not an image at all", picture(400, 300)[:1500]],
    ids=["empty", "text", "truncated"],
)
def test_what_cannot_be_read_is_told_plainly(data: bytes) -> None:
    with pytest.raises(VisionError) as caught:
        prepare(data)
    assert str(caught.value) == UNREADABLE


def test_the_token_estimate_follows_openais_tiles() -> None:
    assert image_tokens(4000, 3000, "low") == 85
    assert image_tokens(1024, 1024, "high") == 85 + 170 * 4  # 768x768: 2x2 tiles
    assert image_tokens(2048, 4096, "auto") == 85 + 170 * 6  # 1024x2048 -> 768x1536
    assert image_tokens(None, None, "auto") == image_tokens(1024, 1024, "high")


def _status_error(message: str) -> openai.BadRequestError:
    import httpx2 as httpx

    request = httpx.Request("POST", "http://model/v1/chat/completions")
    response = httpx.Response(400, request=request)
    body = {"message": message, "type": "invalid_request_error"}
    return openai.BadRequestError(message, response=response, body=body)


@pytest.mark.parametrize(
    "message",
    [
        "Invalid content type. image_url is only supported by certain models.",
        "This model does not support image input.",
        "llama-3 is not a multimodal model",
        "unknown variant `image_url`, expected `text`",
        "Image input is not supported for this model",
    ],
)
def test_a_model_without_image_input_is_told_apart(message: str) -> None:
    assert isinstance(translate_error(_status_error(message)), ImageInputRefusedError)


def test_other_refusals_stay_what_they_were() -> None:
    error = translate_error(_status_error("messages[3]: content must not be empty"))
    assert isinstance(error, LLMRequestRefusedError)
    assert not isinstance(error, ImageInputRefusedError)
