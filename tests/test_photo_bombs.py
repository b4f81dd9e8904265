"""Images that claim many pixels are refused from their header, before a pixel is decoded."""

from __future__ import annotations

import time

import pytest
from PIL import Image
from sqlalchemy import func, select

from tests.support import text_of
from tests.test_photos import encoded, stored_files, upload
from webapp.extensions import db
from webapp.models import Photo
from webapp.photos.imaging import PhotoRejected, process


def forbid_decoding(monkeypatch) -> None:
    """From now on the test fails if any image is decoded (the limit must act on the header)."""
    def refuse(self, *args, **kwargs):
        raise AssertionError(f"decoded a {self.size} {self.format} image")

    monkeypatch.setattr(Image.Image, "load", refuse)
    monkeypatch.setattr("PIL.ImageFile.ImageFile.load", refuse)


@pytest.mark.parametrize("fmt", ["PNG", "WEBP"])
def test_a_7000_by_7000_image_of_a_few_kb_is_refused_before_decoding(monkeypatch, fmt):
    # The attack: a 47 KB PNG of 7000x7000 pixels took 1.5 s and 480 MB to refuse or keep.
    data = encoded(fmt, (7000, 7000), color=(120, 80, 60))
    assert len(data) < 300_000
    forbid_decoding(monkeypatch)
    start = time.perf_counter()
    with pytest.raises(PhotoRejected) as refused:
        process(data)
    assert time.perf_counter() - start < 0.5
    assert "too large in pixels (over 16 megapixels)" in refused.value.message


def test_the_upload_says_what_to_do_and_keeps_nothing(app, auth_client):
    resp = upload(auth_client, encoded("PNG", (7000, 7000)), name="bomb.png")
    assert resp.status_code == 422
    assert "Use your camera's normal photo size." in text_of(resp)
    assert db.session.scalar(select(func.count()).select_from(Photo)) == 0 and stored_files(app) == []


def test_a_12_megapixel_png_photo_is_still_kept():
    out = process(encoded("PNG", (4032, 3024)))
    assert (out.width, out.height) == (4032, 3024)


def test_a_large_jpeg_is_decoded_at_a_fraction_of_its_size():
    # 48 MP sensors write JPEGs of 8064x6048: decoded at half size straight from the DCT.
    out = process(encoded("JPEG", (8064, 6048)))
    assert max(out.width, out.height) <= 4096
