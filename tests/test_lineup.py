"""Honest comparison in the app: uploads are lined up with the area's reference, compare shows the
aligned pair or says why not, the camera offers a retake, the time-lapse plays, files stay as kept."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime, timedelta

import pytest
from PIL import Image
from sqlalchemy import select

from tests.scenes import camera, shoot
from tests.support import htmx, text_of
from tests.test_photos import read, upload
from webapp.extensions import db
from webapp.models import Photo
from webapp.photos import align, lineup

START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def take(client, clock, weeks: int, *, scene="chelsea", area="crown", **view) -> tuple[Photo, object]:
    clock.set(START + timedelta(weeks=weeks))
    resp = upload(client, shoot(scene, camera(scene, **view)), area=area)
    assert resp.status_code == 200, text_of(resp)
    return db.session.scalars(select(Photo).order_by(Photo.id.desc())).first(), resp


def jpeg_size(data: bytes) -> tuple[int, int]:
    img = Image.open(io.BytesIO(data))
    assert img.format == "JPEG"
    return img.size


def test_an_upload_is_lined_up_with_the_first_photo_of_its_area(auth_client, clock):
    first, _ = take(auth_client, clock, 0)
    second, resp = take(auth_client, clock, 6, zoom=1.1, degrees=6, shift=(40, -20))
    assert first.align_ref_id is None and first.is_reference is False  # the first is the reference
    assert second.align_ref_id == first.id
    assert 1 / second.align_scale == pytest.approx(1.1, rel=0.01)
    assert second.align_rotation == pytest.approx(6, abs=1)
    assert second.align_inliers >= align.MIN_INLIERS * 5
    assert "Lines up with your reference photo" in text_of(resp)


def test_compare_shows_the_lined_up_pair_and_the_originals_on_request(app, auth_client, other_client, clock):
    first, _ = take(auth_client, clock, 0)
    second, _ = take(auth_client, clock, 6, zoom=1.1, degrees=6, shift=(40, -20), )
    kept = {(p.id, k): read(app, getattr(p, k)) for p in (first, second) for k in ("original_key", "display_key")}
    page = auth_client.get("/photos/compare?area=crown").get_data(as_text=True)
    before_url = f"/photos/{first.id}/aligned/before.jpg?with={second.id}"
    after_url = f"/photos/{first.id}/aligned/after.jpg?with={second.id}"
    assert f'src="{before_url}"' in page and f'src="{after_url}"' in page
    assert f'data-taken="/photos/{second.id}/display.jpg"' in page  # the "as taken" toggle
    assert f'data-lined-raw="/photos/{first.id}/aligned/after.jpg?light=0&amp;with={second.id}"' in page
    assert "Lined up" in page and "Same light" in page and "Not a fair comparison" not in page

    before, after = auth_client.get(before_url), auth_client.get(after_url)
    assert before.status_code == after.status_code == 200
    assert before.headers["Cache-Control"] == "private, no-cache"
    assert jpeg_size(before.data) == jpeg_size(after.data)  # the same crop of the same spot
    assert max(jpeg_size(before.data)) == lineup.PAIR_SIDE
    again = auth_client.get(after_url, headers={"If-None-Match": after.headers["ETag"]})
    assert again.status_code == 304 and not again.data
    unlit = auth_client.get(after_url.replace("?", "?light=0&"))
    assert unlit.status_code == 200 and unlit.data != after.data
    # Private, and the stored files are untouched.
    assert other_client.get(after_url).status_code == 404
    theirs, _ = take(other_client, clock, 7)
    assert auth_client.get(f"/photos/{first.id}/aligned/after.jpg?with={theirs.id}").status_code == 404
    assert auth_client.get(f"/photos/{first.id}/aligned/after.jpg").status_code == 400
    for p in (first, second):
        for k in ("original_key", "display_key"):
            assert read(app, getattr(p, k)) == kept[(p.id, k)]


def test_a_photo_taken_much_closer_is_called_out_with_a_retake(auth_client, clock):
    take(auth_client, clock, 0)
    closer, resp = take(auth_client, clock, 6, zoom=1.3)
    closer_id = closer.id
    status = text_of(resp)
    assert "The crown looks about 30% closer than in your reference photo: retake it at the usual distance." \
        in status
    assert f'action="/photos/{closer.id}/delete"' in resp.get_data(as_text=True)
    assert "Retake it" in status

    page = auth_client.get("/photos/compare?area=crown")
    text = text_of(page)
    assert "Not a fair comparison" in text
    assert "The crown looks about 30% closer in the newer photo: retake it at the usual distance." in text
    assert "/aligned/" not in page.get_data(as_text=True)  # no misleading lined-up pair
    assert auth_client.get(f"/photos/{closer.id - 1}/aligned/after.jpg?with={closer.id}").status_code == 409

    # Retake: the photo is removed and the camera card says to take it again.
    resp = auth_client.post(f"/photos/{closer_id}/delete", data={"retake": "1"}, headers=htmx())
    assert resp.headers["HX-Redirect"].startswith("/photos?area=crown&retake=1")
    db.session.expire_all()
    assert db.session.get(Photo, closer_id) is None
    assert "Take it again at the usual distance" in text_of(auth_client.get("/photos?area=crown&retake=1"))


@pytest.mark.parametrize(("view", "words"), [
    ({"zoom": 1 / 1.4}, "looks about 29% further away in the newer photo"),
    ({"degrees": 28}, "is turned about 28° in the newer photo"),
])
def test_further_away_or_turned_is_said_in_plain_words(auth_client, clock, view, words):
    take(auth_client, clock, 0, scene="grass")
    take(auth_client, clock, 6, scene="grass", **view)
    assert words in text_of(auth_client.get("/photos/compare?area=crown"))


def test_a_photo_of_something_else_is_never_lined_up(auth_client, clock):
    take(auth_client, clock, 0, scene="chelsea")
    other, resp = take(auth_client, clock, 6, scene="gravel")
    assert other.align_inliers < align.MIN_INLIERS
    assert "don't show enough of the same spot" in text_of(resp)
    assert "don't show enough of the same spot" in text_of(auth_client.get("/photos/compare?area=crown"))


def test_use_as_reference_needs_csrf_and_the_owner_and_carries_alignments_over(auth_client, other_client, clock,
                                                                                 user):
    first, _ = take(auth_client, clock, 0)
    second, _ = take(auth_client, clock, 4, zoom=1.1, degrees=5)
    third, _ = take(auth_client, clock, 8, zoom=1.05, degrees=-4, shift=(30, 0))
    assert auth_client.post(f"/photos/{second.id}/reference", csrf=False).status_code == 400
    assert other_client.post(f"/photos/{second.id}/reference").status_code == 404
    assert "Use as reference" in text_of(auth_client.get(f"/photos/{second.id}"))

    resp = auth_client.post(f"/photos/{second.id}/reference")
    assert resp.status_code == 303
    assert "This is the reference for crown" in text_of(auth_client.get(f"/photos/{second.id}"))
    assert lineup.reference_of(user, "crown").id == second.id
    db.session.expire_all()
    first, third = db.session.get(Photo, first.id), db.session.get(Photo, third.id)
    # Composed through the old reference: third relative to second is zoom 1.05/1.1, turn -9°.
    assert third.align_ref_id == first.align_ref_id == second.id
    assert 1 / third.align_scale == pytest.approx(1.05 / 1.1, rel=0.01)
    assert third.align_rotation == pytest.approx(-9, abs=1)
    assert 1 / first.align_scale == pytest.approx(1 / 1.1, rel=0.01)
    assert "Lined up" in text_of(auth_client.get("/photos/compare?area=crown"))


def test_deleting_the_reference_lines_the_rest_up_with_the_next_first_photo(auth_client, clock):
    first, _ = take(auth_client, clock, 0)
    second, _ = take(auth_client, clock, 4, zoom=1.1)
    third, _ = take(auth_client, clock, 8, zoom=1.12, degrees=3)
    second_id, third_id = second.id, third.id
    auth_client.post(f"/photos/{first.id}/delete")
    db.session.expire_all()
    page = auth_client.get("/photos/compare?area=crown").get_data(as_text=True)
    db.session.expire_all()
    third = db.session.get(Photo, third_id)
    assert third.align_ref_id == second_id and 1 / third.align_scale == pytest.approx(1.12 / 1.1, rel=0.01)
    assert f"/photos/{second_id}/aligned/after.jpg?with={third_id}" in page


def test_timelapse_plays_every_lined_up_photo_with_its_date_and_downloads_as_webp(auth_client, other_client, clock):
    photos = [take(auth_client, clock, w, zoom=z, degrees=d)[0]
              for w, z, d in ((0, 1.0, 0), (4, 1.08, 4), (8, 0.95, -5), (12, 1.4, 0))]
    page = auth_client.get("/photos/timelapse?area=crown")
    html = page.get_data(as_text=True)
    frames = re.findall(r'<img src="/photos/(\d+)/frame.jpg"', html)
    assert frames == [str(p.id) for p in photos[:3]]  # the 40% closer one is left out
    assert "1 photo is left out: taken too close, too far or at another angle" in text_of(page)
    for date in ("5 Jan 2026", "2 Feb 2026", "2 Mar 2026"):
        assert f">{date}</time>" in html
    sizes = {jpeg_size(auth_client.get(f"/photos/{pid}/frame.jpg").data) for pid in frames}
    assert len(sizes) == 1 and max(sizes.pop()) == lineup.FRAME_SIDE
    assert auth_client.get(f"/photos/{photos[3].id}/frame.jpg").status_code == 409
    assert other_client.get(f"/photos/{photos[0].id}/frame.jpg").status_code == 404

    webp = auth_client.get("/photos/timelapse.webp?area=crown")
    assert webp.status_code == 200 and webp.mimetype == "image/webp"
    assert "attachment" in webp.headers["Content-Disposition"]
    assert webp.headers["Cache-Control"] == "private, no-cache"
    anim = Image.open(io.BytesIO(webp.data))
    assert anim.format == "WEBP" and anim.n_frames == 3 and anim.is_animated
    assert other_client.get("/photos/timelapse.webp?area=crown").status_code == 404
    assert auth_client.get("/photos/timelapse.webp?area=scalp").status_code == 404


def test_a_long_history_is_sampled_to_sixty_frames_keeping_the_first_and_last():
    items = list(range(250))
    picked = lineup.sample(items)
    assert len(picked) == lineup.MAX_FRAMES and picked[0] == 0 and picked[-1] == 249
    assert picked == sorted(set(picked))
    assert lineup.sample(items[:5]) == items[:5]


def test_timelapse_with_one_photo_explains(auth_client, clock):
    take(auth_client, clock, 0)
    assert "A time-lapse needs two or more photos" in text_of(auth_client.get("/photos/timelapse"))


def test_export_carries_the_reference_and_alignments_and_import_restores_them(auth_client, other_client,
                                                                               other_user, clock):
    import json
    import zipfile

    first, _ = take(auth_client, clock, 0)
    second, _ = take(auth_client, clock, 4, zoom=1.1, degrees=5)
    third, _ = take(auth_client, clock, 8, zoom=1.05, degrees=-3)
    auth_client.post(f"/photos/{second.id}/reference")
    exported = auth_client.get("/settings/export/rollwise.zip").data
    data = json.loads(zipfile.ZipFile(io.BytesIO(exported)).read("rollwise.json"))
    rows = {p["client_id"]: p for p in data["photos"]}
    db.session.expire_all()
    mine = {p.client_id: p for p in db.session.scalars(select(Photo).where(Photo.user_id == first.user_id))}
    ref_cid = next(cid for cid, p in mine.items() if p.is_reference)
    assert rows[ref_cid]["reference"] is True and rows[ref_cid]["alignment"] is None
    third_cid = next(cid for cid, p in mine.items() if p.id == third.id)
    assert rows[third_cid]["alignment"]["to"] == ref_cid
    assert rows[third_cid]["alignment"]["scale"] == mine[third_cid].align_scale

    resp = other_client.post("/settings/import", data={"file": (io.BytesIO(exported), "rollwise.zip")},
                             content_type="multipart/form-data", headers=htmx())
    assert resp.status_code == 200, text_of(resp)
    theirs = {p.client_id: p for p in db.session.scalars(select(Photo).where(Photo.user_id == other_user.id))}
    assert theirs[ref_cid].is_reference and lineup.reference_of(other_user, "crown").id == theirs[ref_cid].id
    restored = theirs[third_cid]
    assert restored.align_ref_id == theirs[ref_cid].id
    assert (restored.align_scale, restored.align_rotation, restored.align_tx, restored.align_inliers) == (
        mine[third_cid].align_scale, mine[third_cid].align_rotation, mine[third_cid].align_tx,
        mine[third_cid].align_inliers)
    assert "Lined up" in text_of(other_client.get("/photos/compare?area=crown"))


def test_a_sixty_frame_time_lapse_page_fits_the_partial_budget(auth_client, clock):
    from tests.test_page_weight import GZIP, PARTIAL_BUDGET

    ref, _ = take(auth_client, clock, 0)
    for week in range(1, 90):  # 90 photos already lined up: the page shows 60 of them
        db.session.add(Photo(user_id=ref.user_id, client_id=f"lined-{week}", area="crown",
                             taken_at=START + timedelta(weeks=week), original_key=ref.original_key,
                             display_key=ref.display_key, thumb_key=ref.thumb_key, width=ref.width,
                             height=ref.height, align_ref_id=ref.id, align_scale=1.0, align_rotation=0.0,
                             align_tx=0.0, align_ty=0.0, align_inliers=900, align_ratio=0.9))
    db.session.commit()
    resp = auth_client.get("/photos/timelapse?area=crown", headers={**GZIP, **htmx(**{"HX-Target": "main"})})
    assert resp.status_code == 200
    assert len(resp.get_data()) <= PARTIAL_BUDGET
    html = auth_client.get("/photos/timelapse?area=crown", headers=htmx(**{"HX-Target": "main"})).get_data(
        as_text=True)
    assert len(re.findall(r'<li class="tl-frame[ "]', html)) == lineup.MAX_FRAMES
    assert "A long history is shown in 60 evenly spread photos" in html
