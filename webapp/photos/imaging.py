"""Turn an upload into three clean JPEGs: upright, without any metadata, bounded in size.

Accepts JPEG, PNG, WebP and HEIC/HEIF (pillow-heif). Anything that is not a
readable image of those kinds is refused with a sentence that says what to do.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pillow_heif
from PIL import Image, ImageCms, ImageOps, UnidentifiedImageError

from webapp.domain.images import fit_size

pillow_heif.register_heif_opener()

# A 12 MP phone photo is 4032x3024; 48 MP sensors exist. Above this many pixels an
# upload is refused before it is decoded (decompression bombs claim huge sizes).
MAX_PIXELS = 50_000_000
Image.MAX_IMAGE_PIXELS = MAX_PIXELS  # Pillow's own guard: warning above, error above twice this
# JPEG decodes at 1/2..1/8 straight from the DCT (draft below), so even 50 MP costs no more than
# 12 MP; PNG, WebP and HEIC decode at full size. Their limit, read from the header before any pixel
# is decoded, keeps memory within the photo budget (a 12 MP photo <= 250 MB peak, bench/): a 7000x7000
# PNG of 47 KB took 1.5 s and 480 MB before it was refused here. 4096x4096 holds every 12 MP photo.
MAX_DECODED_PIXELS = 4096 * 4096

ORIGINAL_SIDE = 4096  # the kept "original" is at most this long: 12 MP stays full size
DISPLAY_SIDE = 1600
THUMB_SIDE = 400
FORMATS = {"JPEG": "JPEG", "PNG": "PNG", "WEBP": "WebP", "HEIF": "HEIC", "AVIF": "AVIF"}
ACCEPTED = ("JPEG", "PNG", "WEBP", "HEIF")

EXIF_IFD = 0x8769
DATETIME_ORIGINAL = 36867
OFFSET_TIME_ORIGINAL = 36881


class PhotoRejected(Exception):
    """The upload is not a photo we can keep; ``message`` tells the user what to do."""

    def __init__(self, message: str, status: int = 422) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


@dataclass(frozen=True)
class Processed:
    original: bytes
    display: bytes
    thumb: bytes
    width: int
    height: int
    taken_at: datetime | None  # from EXIF DateTimeOriginal, in UTC


def _open(data: bytes) -> Image.Image:
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            img = Image.open(io.BytesIO(data))
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise _too_many_pixels() from exc
        except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
            raise PhotoRejected(
                "That file isn't a photo we can read. Choose a JPEG, PNG, WebP or HEIC photo.", 415
            ) from exc
    if img.format not in ACCEPTED:
        kind = img.format or "that kind of"
        raise PhotoRejected(
            f"Rollwise can't keep {kind} images. Choose a JPEG, PNG, WebP or HEIC photo.", 415
        )
    limit = MAX_PIXELS if img.format == "JPEG" else MAX_DECODED_PIXELS
    if img.width * img.height > limit:
        raise _too_many_pixels(limit)
    return img


def _too_many_pixels(limit: int = MAX_PIXELS) -> PhotoRejected:
    return PhotoRejected(
        f"That image is too large in pixels (over {limit // 1_000_000} megapixels). "
        "Use your camera's normal photo size.", 422
    )


def _damaged() -> PhotoRejected:
    return PhotoRejected("That photo is damaged or incomplete. Take it again or choose another one.", 422)


def _taken_at(img: Image.Image, tz: str) -> datetime | None:
    """EXIF DateTimeOriginal with its offset; without an offset the camera's clock is the user's zone."""
    try:
        exif_ifd = img.getexif().get_ifd(EXIF_IFD)
        raw = exif_ifd.get(DATETIME_ORIGINAL)
        if not raw:
            return None
        raw = str(raw).strip("\x00 ")
        naive = datetime.strptime(raw[:19], "%Y:%m:%d %H:%M:%S")  # noqa: DTZ007 (zone added below)
        offset = str(exif_ifd.get(OFFSET_TIME_ORIGINAL) or "").strip("\x00 ")
        if offset:
            sign = -1 if offset.startswith("-") else 1
            hours, minutes = offset.lstrip("+-").split(":")
            delta = timedelta(hours=int(hours), minutes=int(minutes)) * sign
            return (naive - delta).replace(tzinfo=UTC)
        return naive.replace(tzinfo=ZoneInfo(tz)).astimezone(UTC)
    except Exception:  # noqa: BLE001  (a malformed date just means "unknown")
        return None


def _draft_factor(width: int, height: int) -> int:
    factor = 1
    while factor < 8 and max(width, height) / factor > ORIGINAL_SIDE:
        factor *= 2
    return factor


def _to_srgb(img: Image.Image) -> Image.Image:
    """Flatten transparency onto white and convert any embedded colour profile to plain sRGB."""
    icc = img.info.get("icc_profile")
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        base = Image.new("RGB", rgba.size, (255, 255, 255))
        base.paste(rgba, mask=rgba.getchannel("A"))
        img = base
    elif img.mode == "I;16" or img.mode == "I":
        img = img.point(lambda v: v / 256).convert("L")
    if icc and img.mode in ("RGB", "CMYK", "L"):
        try:
            src = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            img = ImageCms.profileToProfile(img, src, ImageCms.createProfile("sRGB"), outputMode="RGB")
        except (ImageCms.PyCMSError, OSError, ValueError):
            pass  # an unreadable profile: the plain conversion below is close enough
    if img.mode != "RGB":
        img = img.convert("RGB")
    return img


def _jpeg(img: Image.Image, quality: int, web: bool = True) -> bytes:
    # No exif, icc, comments or xmp can ride along: the encoder reads them from ``info``,
    # which is emptied for the save (instead of copying 36 MB of pixels to drop it).
    kept, img.info = img.info, {}
    try:
        buf = io.BytesIO()
        # Copies shown on the page are progressive with optimised tables (they draw early on a
        # slow line); the full-size original is only downloaded, and encoding 12 MP that way
        # took half a second of a 1-second budget for a 7 % smaller file (bench/results.md).
        img.save(buf, "JPEG", quality=quality, optimize=web, progressive=web)
    finally:
        img.info = kept
    return buf.getvalue()


def process(data: bytes, tz: str = "UTC") -> Processed:
    """Verify the upload is a real image, then make upright, metadata-free JPEGs in three sizes."""
    if not data:
        raise PhotoRejected("Choose a photo first, or take one with the camera.", 422)
    img = _open(data)
    try:
        img.verify()
    except Exception as exc:  # noqa: BLE001  (verify raises many kinds for broken files)
        raise _damaged() from exc
    img = _open(data)  # verify() leaves the image unusable: reopen it
    taken_at = _taken_at(img, tz)
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            if img.format == "JPEG":
                # Decode at 1/2, 1/4 or 1/8 straight from the DCT: a 48 MP photo never
                # sits in memory at full size.
                factor = _draft_factor(img.width, img.height)
                if factor > 1:
                    img.draft("RGB", (img.width // factor, img.height // factor))
            img.load()
            img = ImageOps.exif_transpose(img)
            img = _to_srgb(img)
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise _too_many_pixels() from exc
        except (OSError, ValueError, SyntaxError, EOFError) as exc:
            raise _damaged() from exc

    if max(img.size) > ORIGINAL_SIDE:
        img = img.resize(fit_size(*img.size, ORIGINAL_SIDE), Image.Resampling.LANCZOS, reducing_gap=3.0)
    original = _jpeg(img, 90, web=False)
    display_img = img.resize(fit_size(*img.size, DISPLAY_SIDE), Image.Resampling.LANCZOS, reducing_gap=3.0)
    display = _jpeg(display_img, 84)
    thumb_img = display_img.resize(fit_size(*img.size, THUMB_SIDE), Image.Resampling.LANCZOS, reducing_gap=3.0)
    thumb = _jpeg(thumb_img, 80)
    return Processed(original, display, thumb, img.width, img.height, taken_at)


def _bare_jfif(marker: str, body: bytes) -> bool:
    """The 14-byte JFIF header Pillow writes: version, density, and a 0x0 thumbnail."""
    return marker == "APP0" and len(body) == 14 and body.startswith(b"JFIF\x00") and body[12:14] == b"\x00\x00"


def from_kept_original(data: bytes) -> Processed | None:
    """A stored original kept byte for byte, with display and thumbnail copies made from it.

    For imports (webapp/dataio): a file exactly as ``process()`` writes an original (a
    plain JPEG with nothing but its JFIF header, upright, at most ORIGINAL_SIDE long, and
    nothing after the end of the image) needs no cleaning, so re-importing an export
    keeps photos identical and takes half the time. Anything else returns None and goes
    through ``process()``, which removes what it carries.
    """
    if not data.endswith(b"\xff\xd9"):  # bytes after the end of the image could carry anything
        return None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data))
            if (img.format != "JPEG" or img.mode not in ("RGB", "L") or max(img.size) > ORIGINAL_SIDE
                    or "comment" in img.info or any(not _bare_jfif(marker, body) for marker, body in img.applist)):
                return None  # EXIF, ICC, XMP, Adobe, comments or a JFIF thumbnail: process() drops them
            width, height = img.size
            factor = 1
            while factor < 8 and max(width, height) / (factor * 2) >= DISPLAY_SIDE:
                factor *= 2
            if factor > 1:
                img.draft("RGB", (width // factor, height // factor))
            img.load()
    except Exception:  # noqa: BLE001  (unreadable here means process() decides, with its messages)
        return None
    img = img.convert("RGB")
    display_img = img.resize(fit_size(width, height, DISPLAY_SIDE), Image.Resampling.LANCZOS, reducing_gap=3.0)
    thumb_img = display_img.resize(fit_size(width, height, THUMB_SIDE), Image.Resampling.LANCZOS, reducing_gap=3.0)
    return Processed(data, _jpeg(display_img, 84), _jpeg(thumb_img, 80), width, height, None)
