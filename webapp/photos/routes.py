"""The photo log: take, keep privately, see by area, compare fairly, record stages."""

from __future__ import annotations

import uuid
from datetime import datetime

from flask import Response, abort, make_response, request, send_file, url_for
from flask_login import current_user, login_required
from marshmallow import ValidationError

from webapp.clock import local, utcnow
from webapp.domain.rules import AREAS
from webapp.models import NeedlingSession, Photo, Stage, owned
from webapp.photos import lineup, service
from webapp.photos.blueprint import bp
from webapp.photos.cards import latest_photo_context
from webapp.photos.imaging import PhotoRejected
from webapp.photos.schemas import StageSchema, UploadSchema
from webapp.storage import get_storage
from webapp.templating import photo_date
from webapp.web import field_errors, hx_redirect, hx_trigger, number_arg, or_404, render_page, wants_partial

VARIANTS = {"original": "original_key", "display": "display_key", "thumb": "thumb_key"}
# Guide shapes of the in-page camera: an oval frames a hairline, a circle the crown.
GUIDES = {"hairline_left": "oval", "hairline_right": "oval", "frontal": "oval",
          "mid_scalp": "rect", "part_line": "line", "crown": "circle"}


def _new_client_id() -> str:
    return str(uuid.uuid4())


def _local(dt: datetime) -> datetime:
    return local(dt, current_user.timezone)


def _capture_context(area: str | None = None, session=None) -> dict:
    ghosts = service.last_by_area(current_user)
    if area not in AREAS:
        latest = service.latest_photo(current_user)
        area = latest.area if latest else None
    return {
        "client_id": _new_client_id(),
        "selected_area": area,
        "ghosts": ghosts,
        "guides": GUIDES,
        "sessions": service.recent_sessions(current_user),
        "linked_session": session,
        "max_bytes": _max_bytes(),
    }


def _timeline_context() -> dict:
    stages = service.stages_of(current_user)
    return {"groups": service.timeline(current_user), "stages": stages, "stage_by_photo": _stage_by_photo(stages)}


def _stage_by_photo(stages: list[Stage]) -> dict[int, Stage]:
    out: dict[int, Stage] = {}
    for stage in stages:
        if stage.photo_id:
            out.setdefault(stage.photo_id, stage)
    return out


def _stage_form_context(errors: dict | None = None, values: dict | None = None) -> dict:
    today = _local(utcnow()).date().isoformat()
    return {"stage_errors": errors or {}, "stage_values": values or {"assessed_on": today, "assessed_by": "self"},
            "stage_client_id": _new_client_id(), "stage_photos": service.photos_of(current_user, limit=30),
            "today_iso": today}


def _max_bytes() -> int:
    from flask import current_app

    return current_app.config["PHOTO_MAX_BYTES"]


def _page(area: str | None = None, session=None, status: int = 200, **extra):
    return render_page("photos/index.html", status=status, **_capture_context(area, session),
                       **_timeline_context(), **_stage_form_context(), **extra)


@bp.get("/photos")
@login_required
def index():
    """The camera card, then photos grouped by area, newest first, and the stages."""
    return _page(request.args.get("area"))


@bp.get("/photos/new")
@login_required
def new():
    """Take a photo, optionally for one of the user's sessions (``?session_id=``) and area."""
    session = None
    if (sid := number_arg("session_id")) is not None:
        session = _own_session(sid)
    area = request.args.get("area")
    if area not in AREAS and session is not None and session.areas:
        area = session.areas[0]
    return _page(area, session)


def _upload_error(message: str, status: int):
    if not request.htmx:  # a plain form post: the whole page, the message in the camera card
        return _page(request.form.get("area"), status=status, upload_error=message)
    resp = make_response(render_page("photos/_upload_status.html", status=status, error=message))
    resp.headers["HX-Retarget"] = "#upload-status"
    resp.headers["HX-Reswap"] = "innerHTML"
    return resp


@bp.post("/photos")
@login_required
def upload():
    """Store a photo: verified, upright, metadata removed, three sizes; a repeat stores nothing new."""
    try:
        data = UploadSchema().load(request.form.to_dict())
    except ValidationError as err:
        return _upload_error(next(iter(field_errors(err).values())), 422)
    session_id = data["session_id"]
    if session_id is not None:
        _own_session(session_id)
    files = [f for f in request.files.getlist("photo") if f and f.filename]
    raw = files[0].stream.read(_max_bytes() + 1) if files else b""
    try:
        photo, created = service.save_upload(user=current_user, client_id=data["client_id"],
                                             area=data["area"], session_id=session_id, data=raw,
                                             tz=current_user.timezone, now=utcnow())
    except PhotoRejected as rejected:
        return _upload_error(rejected.message, rejected.status)
    if not request.htmx:
        return hx_redirect(url_for("photos.index", area=photo.area))
    verdict = lineup.upload_verdict(photo)
    advice = lineup.advice(verdict, photo.area, "than in your reference photo") if verdict and not verdict.comparable \
        else ""
    resp = make_response(render_page("photos/_uploaded.html", photo=photo, created=created, verdict=verdict,
                                     advice=advice,
                                     stage_photos=service.photos_of(current_user, limit=30),
                                     **_capture_context(photo.area), **_timeline_context()))
    return hx_trigger(resp, "photo-added") if created else resp


def _owned(photo_id: int) -> Photo:
    """The signed-in user's photo, or 404."""
    return or_404(owned(Photo, current_user, photo_id))


def _own_session(session_id: int) -> NeedlingSession:
    """The signed-in user's session (not a deleted one) a photo is taken for, or 404."""
    return or_404(owned(NeedlingSession, current_user, session_id, NeedlingSession.deleted_at.is_(None)))


@bp.get("/photos/area/<area>")
@login_required
def area_more(area: str):
    """Older photos of one area, a page at a time (the timeline shows only the newest of each)."""
    if area not in AREAS:
        abort(404)
    before = None
    if (before_id := number_arg("before")) is not None:
        before = owned(Photo, current_user, before_id)
        if before is None or before.area != area:
            abort(404)
    photos = service.older_of_area(current_user, area, before)
    more = len(photos) > service.AREA_PAGE
    return render_page("photos/_tiles.html", photos=photos[:service.AREA_PAGE], more=more, area=area,
                       label=AREAS[area], stage_by_photo=_stage_by_photo(service.stages_of(current_user)))


@bp.get("/photos/<int:photo_id>")
@login_required
def show(photo_id: int):
    """One photo, large, with its date, session, and delete."""
    photo = _owned(photo_id)
    stages = [s for s in service.stages_of(current_user) if s.photo_id == photo.id]
    ref = lineup.reference_of(current_user, photo.area)
    return render_page("photos/show.html", photo=photo, area_count=service.photo_count(current_user, photo.area),
                       stages=stages, is_reference=ref is not None and ref.id == photo.id)


@bp.get("/photos/<int:photo_id>/<any(original, display, thumb):variant>.jpg")
@login_required
def file(photo_id: int, variant: str):
    """The image itself, only to its owner, never cached by shared caches."""
    photo = _owned(photo_id)
    key = getattr(photo, VARIANTS[variant])
    storage = get_storage()
    if not storage.exists(key):
        abort(404)
    name = f"rollwise-{photo.area.replace('_', '-')}-{_local(photo.taken_at):%Y-%m-%d}.jpg"
    resp = send_file(storage.open(key), mimetype="image/jpeg", etag=key, conditional=True,
                     download_name=name, as_attachment=variant == "original", max_age=None)
    # The owner's browser may keep it but must ask again, so a deleted photo stops showing.
    resp.headers["Cache-Control"] = "private, no-cache"
    return resp


@bp.post("/photos/<int:photo_id>/delete")
@login_required
def delete(photo_id: int):
    """Delete a photo and all its files, after the user confirmed on the photo page."""
    photo = _owned(photo_id)
    area = photo.area
    service.delete_photo(photo)
    if request.form.get("retake"):  # the camera said it doesn't line up: straight back to take it again
        return hx_redirect(url_for("photos.index", area=area, retake=1) + "#capture")
    resp = hx_redirect(url_for("photos.index", area=area, deleted=1))
    return hx_trigger(resp, "photo-added")


@bp.get("/photos/compare")
@login_required
def compare():
    """Two photos of one area: side by side, slider and blink, with what happened in between."""
    groups = service.timeline(current_user)
    comparable = [g for g in groups if g.count >= 2]
    area = request.args.get("area")
    if area not in AREAS:
        area = comparable[0].area if comparable else (groups[0].area if groups else None)
    photos = service.photos_of(current_user, area) if area else []
    pair = service.default_pair(photos)
    chosen = {}
    for name in ("a", "b"):
        if (pid := number_arg(name)) is not None:
            chosen[name] = _owned(pid)
    if chosen:
        a = chosen.get("a") or (pair[0] if pair else None)
        b = chosen.get("b") or (pair[1] if pair else None)
        if a is None or b is None or a.area != b.area:
            abort(404)
        if a.id == b.id:  # "compare this photo" with the first one being this photo: use the latest other
            others = [p for p in service.photos_of(current_user, a.area) if p.id != a.id]
            if not others:
                abort(404)
            a = others[-1]  # the oldest other photo of the area
        area, photos = a.area, service.photos_of(current_user, a.area)
        pair = (a, b) if a.taken_at <= b.taken_at else (b, a)
    summary = service.between_summary(current_user, pair[0].taken_at, pair[1].taken_at, utcnow()) if pair else None
    gap_days = (pair[1].taken_at - pair[0].taken_at).days if pair else 0
    lined = lineup.pair(current_user, *pair) if pair else None
    advice = lineup.advice(lined.verdict, area) if lined and not lined.verdict.comparable else ""
    return render_page("photos/compare.html", area=area, photos=photos, pair=pair, groups=groups,
                       comparable=comparable, summary=summary, gap_days=gap_days,
                       fair_days=service.FAIR_GAP.days, lined=lined, advice=advice,
                       lined_size=_rect_size(lined.rect, lineup.PAIR_SIDE) if lined else None)


def _rect_size(rect: tuple[float, float, float, float], side: int) -> tuple[int, int]:
    w, h = rect[2] - rect[0], rect[3] - rect[1]
    if w <= 0 or h <= 0:
        return side, side
    k = side / max(w, h)
    return max(1, round(w * k)), max(1, round(h * k))


def _rendered(etag: str, render, name: str) -> Response:
    """A picture made on request, private to its owner; unchanged ones answer 304 without rendering."""
    if etag in request.if_none_match:
        resp = Response(status=304)
    else:
        resp = Response(render(), mimetype="image/jpeg" if name.endswith(".jpg") else "image/webp")
        resp.headers["Content-Disposition"] = f'inline; filename="{name}"'
    resp.set_etag(etag)
    resp.headers["Cache-Control"] = "private, no-cache"
    return resp


def _light_param() -> bool:
    return request.args.get("light", "1") != "0"


@bp.get("/photos/<int:photo_id>/aligned/<any(before, after):side>.jpg")
@login_required
def aligned(photo_id: int, side: str):
    """The earlier photo (``photo_id``) or the later one (``?with=``), lined up and cropped to what both show."""
    before = _owned(photo_id)
    other = number_arg("with")
    if other is None:
        abort(400, "Choose the photo to compare with.")
    after = _owned(other)
    if after.area != before.area or after.id == before.id:
        abort(404)
    lined = lineup.pair(current_user, before, after)
    if not lined.verdict.comparable:  # compare shows the advice instead of a misleading pair
        abort(409, "These two photos don't line up: compare says why and how to retake.")
    light = _light_param() and side == "after"
    return _rendered(lineup.pair_etag(lined, side, light), lambda: lineup.render_pair(lined, side, light),
                     f"rollwise-{side}.jpg")


@bp.post("/photos/<int:photo_id>/reference")
@login_required
def use_as_reference(photo_id: int):
    """Make this photo the one every other photo of its area is lined up with."""
    photo = _owned(photo_id)
    lineup.set_reference(current_user, photo)
    return hx_redirect(url_for("photos.show", photo_id=photo.id, reference=1))


@bp.get("/photos/timelapse")
@login_required
def timelapse():
    """An area's photos, lined up and light-matched, played one after another with their dates."""
    groups = service.timeline(current_user)
    comparable = [g for g in groups if g.count >= 2]
    area = request.args.get("area")
    if area not in AREAS:
        area = comparable[0].area if comparable else None
    tl = lineup.timelapse(current_user, area) if area else None
    size = _rect_size(tl.rect, lineup.FRAME_SIDE) if tl and tl.frames else None
    return render_page("photos/timelapse.html", area=area, tl=tl, comparable=comparable, size=size,
                       frame_ms=lineup.FRAME_MS)


@bp.get("/photos/<int:photo_id>/frame.jpg")
@login_required
def frame(photo_id: int):
    """One time-lapse frame: the photo lined up with its area's reference and its light matched."""
    photo = _owned(photo_id)
    tl = lineup.timelapse(current_user, photo.area)
    if photo.id not in {p.id for p in tl.frames}:
        abort(409, "This photo doesn't line up with the area's reference photo, so it isn't part of the time-lapse.")
    light = _light_param()
    return _rendered(lineup.frame_etag(tl, photo, light), lambda: lineup.align.jpeg(
        lineup.render_frame(tl, photo, light=light)), "rollwise-frame.jpg")


@bp.get("/photos/timelapse.webp")
@login_required
def timelapse_webp():
    """The time-lapse as an animated WebP to keep or share, made on the server."""
    area = request.args.get("area", "")
    if area not in AREAS:
        abort(404)
    tl = lineup.timelapse(current_user, area)
    if len(tl.frames) < 2:
        abort(404)
    dates = [photo_date(p.taken_at) for p in tl.frames]
    etag = lineup._etag("webp", [lineup.frame_etag(tl, p, True) for p in tl.frames], dates)
    name = f"rollwise-{area.replace('_', '-')}-timelapse.webp"
    resp = _rendered(etag, lambda: lineup.timelapse_webp(tl, dates), name)
    resp.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    return resp


@bp.get("/photos/latest")
@login_required
def latest():
    """Today's latest-photo card, refreshed after an upload or a delete."""
    return render_page("photos/_latest.html", **latest_photo_context(current_user))


def _stages_response(status: int = 200, **form):
    if not wants_partial():
        if status == 200:
            return hx_redirect(url_for("photos.index") + "#stages")
        return render_page("photos/index.html", status=status, **_capture_context(), **_timeline_context(),
                           **_stage_form_context(**form))
    ctx = {**_timeline_context(), **_stage_form_context(**form)}
    return render_page("photos/_stages.html", status=status, **ctx)


@bp.post("/photos/stages")
@login_required
def add_stage():
    """Record a stage on a standard scale, with its date and who assessed it."""
    form = request.form.to_dict()
    try:
        data = StageSchema().load(form)
    except ValidationError as err:
        return _stages_response(422, errors=field_errors(err), values=form)
    if data["photo_id"] is not None:
        _owned(data["photo_id"])
    service.add_stage(current_user, data)
    resp = _stages_response()
    return hx_trigger(resp, "stage-recorded")


@bp.post("/photos/stages/<int:stage_id>/delete")
@login_required
def delete_stage(stage_id: int):
    """Remove a recorded stage."""
    service.delete_stage(or_404(owned(Stage, current_user, stage_id)))
    return _stages_response()
