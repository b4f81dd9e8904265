"""Line up two photos of one scalp area, judge whether they can be compared, match their light.

Pure image math (OpenCV + numpy), no Flask, no database: the service passes bytes and numbers.

A photo's alignment is a similarity transform (scale, rotation, shift) that maps the photo
onto its area's reference photo. Coordinates are *normalized*: a pixel position divided by
the image's long side, so the numbers do not depend on the size of the copy they were
measured on, and a scale of 0.8 means "the area fills 80% as much of the frame as in the
reference", whatever the camera's resolution.

Method: ORB features on a grey copy about 1,000 px long (contrast-equalised with CLAHE so a
darker or brighter photo finds the same corners), Lowe's ratio test on the two nearest
matches, then a RANSAC fit of a 4-degree-of-freedom similarity (``cv2.estimateAffinePartial2D``)
with Levenberg-Marquardt refinement on the inliers.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image

WORK_SIDE = 1000  # features are found on a copy this long (long side, px)
ORB_FEATURES = 3000
RATIO = 0.8  # Lowe's ratio test: best match clearly better than the second best
RANSAC_PX = 3.0  # inlier distance at WORK_SIDE
# Below these the pair is "not enough of the same spot": random pairs of different scenes
# reach a handful of chance inliers (tests/test_align.py measures them), a real pair hundreds.
MIN_INLIERS = 40
MIN_INLIER_RATIO = 0.2
MIN_SCALE = 1 / 3  # a fit that shrinks or grows the photo more than this is not a retake
SPREAD = 0.15  # the agreeing points must span at least this share of the photo both ways

# Beyond these the pair is not comparable: the same hair looks denser or thinner just
# because the phone was closer or further, or the light falls differently at another angle.
MAX_SCALE_CHANGE = 0.25  # the area looks over 25% bigger or smaller
MAX_ROTATION = 20.0  # degrees


@dataclass(frozen=True)
class Alignment:
    """Maps a photo onto a target photo, both in normalized coordinates (pixels / long side)."""

    scale: float | None  # None: no transform could be found
    rotation: float | None  # degrees, counter-clockwise in image coordinates (y down: clockwise on screen)
    tx: float | None
    ty: float | None
    inliers: int
    ratio: float  # inliers / matches that passed the ratio test

    @property
    def found(self) -> bool:
        return self.scale is not None

    def matrix(self) -> np.ndarray:
        """The 2x3 affine matrix of this similarity (normalized coordinates)."""
        if not self.found:
            raise ValueError("no transform")
        theta = math.radians(self.rotation)
        c, s = self.scale * math.cos(theta), self.scale * math.sin(theta)
        return np.array([[c, -s, self.tx], [s, c, self.ty]], dtype=np.float64)

    @classmethod
    def from_matrix(cls, m: np.ndarray, inliers: int, ratio: float) -> Alignment:
        scale = math.hypot(m[0, 0], m[1, 0])
        rotation = math.degrees(math.atan2(m[1, 0], m[0, 0]))
        return cls(float(scale), float(rotation), float(m[0, 2]), float(m[1, 2]), int(inliers), float(ratio))

    @classmethod
    def identity(cls) -> Alignment:
        return cls(1.0, 0.0, 0.0, 0.0, 10**6, 1.0)

    @classmethod
    def failed(cls, inliers: int = 0, ratio: float = 0.0) -> Alignment:
        return cls(None, None, None, None, int(inliers), float(ratio))


@dataclass(frozen=True)
class Verdict:
    """Whether a pair can be compared fairly, and if not, why, in numbers the message uses."""

    comparable: bool
    reason: str  # "ok" | "no_match" | "closer" | "farther" | "rotated"
    percent: int = 0  # how much closer/farther (the area looks this % bigger/smaller)
    degrees: int = 0  # how much turned


def judge(alignment: Alignment, max_scale_change: float = MAX_SCALE_CHANGE,
          max_rotation: float = MAX_ROTATION) -> Verdict:
    """Comparable, or the main reason it is not: too few matches, distance, then angle.

    ``alignment`` maps the newer photo onto the earlier one, so a scale below 1 means the
    area fills more of the newer frame: the phone was closer.
    """
    if not alignment.found or alignment.inliers < MIN_INLIERS or alignment.ratio < MIN_INLIER_RATIO:
        return Verdict(False, "no_match")
    looks = 1.0 / alignment.scale  # how big the area looks in the newer photo, relative
    rotation = abs(alignment.rotation)
    if looks > 1 + max_scale_change:
        return Verdict(False, "closer", percent=round((looks - 1) * 100), degrees=round(rotation))
    if looks < 1 / (1 + max_scale_change):
        return Verdict(False, "farther", percent=round((1 - looks) * 100), degrees=round(rotation))
    if rotation > max_rotation:
        return Verdict(False, "rotated", percent=round(abs(looks - 1) * 100), degrees=round(rotation))
    return Verdict(True, "ok", percent=round(abs(looks - 1) * 100), degrees=round(rotation))


# ---- reading ----------------------------------------------------------------------------


def _decode(data: bytes, side: int, full: int, reduced: tuple[tuple[int, int], ...]) -> np.ndarray:
    """Decode with OpenCV, JPEGs at 1/8, 1/4 or 1/2 straight from the DCT when that still leaves at
    least ``side`` px, so a 12 MP photo never sits in memory at full size."""
    with Image.open(io.BytesIO(data)) as probe:
        long_side = max(probe.size)
        is_jpeg = probe.format == "JPEG"
    flag = full
    if is_jpeg:
        for factor, reduced_flag in reduced:
            if long_side / factor >= side:
                flag = reduced_flag
                break
    img = cv2.imdecode(np.frombuffer(data, np.uint8), flag)
    if img is None:
        raise ValueError("unreadable image")
    return img


def gray(data: bytes, side: int = WORK_SIDE) -> np.ndarray:
    """A grey copy of a JPEG (or any Pillow-readable image) whose long side is at most ``side``."""
    return fit(_decode(data, side, cv2.IMREAD_GRAYSCALE,
                       ((8, cv2.IMREAD_REDUCED_GRAYSCALE_8), (4, cv2.IMREAD_REDUCED_GRAYSCALE_4),
                        (2, cv2.IMREAD_REDUCED_GRAYSCALE_2))), side)


def color(data: bytes, side: int) -> np.ndarray:
    """An RGB copy (uint8) whose long side is at least ``side`` where the file allows, decoded reduced."""
    img = _decode(data, side, cv2.IMREAD_COLOR,
                  ((8, cv2.IMREAD_REDUCED_COLOR_8), (4, cv2.IMREAD_REDUCED_COLOR_4), (2, cv2.IMREAD_REDUCED_COLOR_2)))
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


def fit(img: np.ndarray, side: int) -> np.ndarray:
    h, w = img.shape[:2]
    if max(h, w) <= side:
        return img
    k = side / max(h, w)
    return cv2.resize(img, (max(1, round(w * k)), max(1, round(h * k))), interpolation=cv2.INTER_AREA)


# ---- registration -----------------------------------------------------------------------


@dataclass(frozen=True)
class Features:
    points: np.ndarray  # (n, 2) float32, pixels of the work copy
    descriptors: np.ndarray | None
    long_side: int


def features(gray_img: np.ndarray) -> Features:
    """ORB corners of a grey work copy, after local contrast equalisation."""
    eq = cv2.createCLAHE(clipLimit=2.0, tileGridSize=(8, 8)).apply(gray_img)
    orb = cv2.ORB_create(nfeatures=ORB_FEATURES, scaleFactor=1.2, nlevels=8, fastThreshold=7)
    keypoints, descriptors = orb.detectAndCompute(eq, None)
    points = np.array([k.pt for k in keypoints], dtype=np.float32).reshape(-1, 2)
    return Features(points, descriptors, max(gray_img.shape[:2]))


def register(photo: Features, target: Features) -> Alignment:
    """The similarity that maps ``photo`` onto ``target`` (normalized coordinates), or a failure."""
    if photo.descriptors is None or target.descriptors is None or len(photo.points) < 8 or len(target.points) < 8:
        return Alignment.failed()
    matcher = cv2.BFMatcher(cv2.NORM_HAMMING)
    pairs = matcher.knnMatch(photo.descriptors, target.descriptors, k=2)
    good = [p[0] for p in pairs if len(p) == 2 and p[0].distance < RATIO * p[1].distance]
    if len(good) < 8:
        return Alignment.failed(0, 0.0)
    src = photo.points[[m.queryIdx for m in good]]
    dst = target.points[[m.trainIdx for m in good]]
    m, mask = cv2.estimateAffinePartial2D(src, dst, method=cv2.RANSAC, ransacReprojThreshold=RANSAC_PX,
                                          maxIters=5000, confidence=0.999, refineIters=20)
    if m is None or mask is None:
        return Alignment.failed(0, 0.0)
    inliers = int(mask.sum())
    scale = math.hypot(m[0, 0], m[1, 0])
    kept = src[mask.ravel() > 0]
    # A "fit" that squeezes the photo to a point, or whose agreeing points all sit in one
    # small patch (a repeated pattern), is a chance agreement, not the same scene.
    if not MIN_SCALE <= scale <= 1 / MIN_SCALE or len(kept) < 3 or \
            float(np.ptp(kept, axis=0).min()) < SPREAD * photo.long_side:
        return Alignment.failed(0, 0.0)
    # Pixels of the work copies -> normalized coordinates of each image.
    m = m.astype(np.float64)
    m[:, :2] *= photo.long_side / target.long_side
    m[:, 2] /= target.long_side
    return Alignment.from_matrix(m, inliers, inliers / len(good))


def register_images(photo_gray: np.ndarray, target_gray: np.ndarray) -> Alignment:
    return register(features(photo_gray), features(target_gray))


# ---- composing --------------------------------------------------------------------------


def _h(m: np.ndarray) -> np.ndarray:
    return np.vstack([m, [0.0, 0.0, 1.0]])


def compose(outer: np.ndarray, inner: np.ndarray) -> np.ndarray:
    """``outer`` after ``inner`` (2x3 matrices)."""
    return (_h(outer) @ _h(inner))[:2]


def invert(m: np.ndarray) -> np.ndarray:
    return np.linalg.inv(_h(m))[:2]


def relative(photo_to_ref: Alignment, target_to_ref: Alignment) -> Alignment:
    """``photo`` onto ``target`` when both were aligned to the same reference; quality is the weaker one."""
    if not (photo_to_ref.found and target_to_ref.found):
        return Alignment.failed(min(photo_to_ref.inliers, target_to_ref.inliers),
                                min(photo_to_ref.ratio, target_to_ref.ratio))
    m = compose(invert(target_to_ref.matrix()), photo_to_ref.matrix())
    return Alignment.from_matrix(m, min(photo_to_ref.inliers, target_to_ref.inliers),
                                 min(photo_to_ref.ratio, target_to_ref.ratio))


def corners(width: int, height: int) -> np.ndarray:
    """The four corners of an image, normalized."""
    long_side = max(width, height)
    w, h = width / long_side, height / long_side
    return np.array([[0, 0], [w, 0], [w, h], [0, h]], dtype=np.float64)


def apply(m: np.ndarray, points: np.ndarray) -> np.ndarray:
    return points @ m[:, :2].T + m[:, 2]


# ---- the shared region ------------------------------------------------------------------

GRID = 240  # the shared region is found on a mask this many cells along the long side


def shared_rect(target_size: tuple[int, int], others: list[tuple[np.ndarray, tuple[int, int]]]
                ) -> tuple[float, float, float, float]:
    """The largest upright rectangle (x0, y0, x1, y1, normalized target coordinates) inside the
    target frame and every other photo once mapped onto it (``others``: (matrix, (w, h)))."""
    tw, th = target_size
    long_side = max(tw, th)
    gw, gh = max(1, round(GRID * tw / long_side)), max(1, round(GRID * th / long_side))
    cell = 1.0 / GRID  # normalized size of one cell (the long side spans GRID cells)
    mask = np.ones((gh, gw), np.uint8)
    for m, (w, h) in others:
        quad = apply(m, corners(w, h)) / cell
        poly = np.zeros_like(mask)
        cv2.fillConvexPoly(poly, np.round(quad * 16).astype(np.int32), 1, lineType=cv2.LINE_8, shift=4)
        mask &= cv2.erode(poly, np.ones((3, 3), np.uint8))  # stay a cell inside the edge
    x0, y0, x1, y1 = _largest_rectangle(mask)
    if x1 <= x0 or y1 <= y0:
        return (0.0, 0.0, 0.0, 0.0)
    return (x0 * cell, y0 * cell, x1 * cell, y1 * cell)


def _largest_rectangle(mask: np.ndarray) -> tuple[int, int, int, int]:
    """Largest all-ones axis-aligned rectangle (histogram method), as cell bounds."""
    h, w = mask.shape
    heights = np.zeros(w, np.int32)
    best = (0, (0, 0, 0, 0))
    for y in range(h):
        heights = np.where(mask[y] > 0, heights + 1, 0)
        stack: list[int] = []
        row = heights.tolist() + [0]
        for x, height in enumerate(row):
            start = x
            while stack and row[stack[-1]] >= height:
                top = stack.pop()
                left = stack[-1] + 1 if stack else 0
                area = row[top] * (x - left)
                if area > best[0]:
                    best = (area, (left, y - row[top] + 1, x, y + 1))
                start = left
            del start
            stack.append(x)
    return best[1]


def shared_fraction(rect: tuple[float, float, float, float], target_size: tuple[int, int]) -> float:
    """How much of the target frame the shared rectangle keeps (0..1)."""
    long_side = max(target_size)
    area = (target_size[0] / long_side) * (target_size[1] / long_side)
    return max(0.0, (rect[2] - rect[0]) * (rect[3] - rect[1])) / area if area else 0.0


# ---- rendering --------------------------------------------------------------------------


def render(img: np.ndarray, to_target: np.ndarray, rect: tuple[float, float, float, float], out_side: int
           ) -> np.ndarray:
    """``img`` (RGB, any size) mapped by ``to_target`` (normalized) and cropped to ``rect``,
    ``out_side`` px along the rectangle's long side."""
    x0, y0, x1, y1 = rect
    k = out_side / max(x1 - x0, y1 - y0)
    out_w, out_h = max(1, round((x1 - x0) * k)), max(1, round((y1 - y0) * k))
    src_long = max(img.shape[:2])
    m = to_target.copy()
    m[:, :2] *= k / src_long
    m[:, 2] = (m[:, 2] - [x0, y0]) * k
    return cv2.warpAffine(img, m, (out_w, out_h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)


def match_light(img: np.ndarray, like: np.ndarray) -> np.ndarray:
    """``img`` with the exposure and white balance of ``like`` (both RGB uint8 of the same region).

    Mean and spread of each channel in CIE L*a*b* (Reinhard et al. 2001, "Color transfer
    between images"): lightness, then the green-red and blue-yellow balance. OpenCV's 8-bit
    L*a*b* scales each channel linearly, so the transfer is the same and four times faster
    than in floats. The spread ratio is bounded so a nearly flat photo is not blown up.
    """
    src = cv2.cvtColor(img, cv2.COLOR_RGB2LAB)
    ref = cv2.cvtColor(like, cv2.COLOR_RGB2LAB)
    out = np.empty_like(src)
    for c in range(3):
        s_mean, s_std = cv2.meanStdDev(src[..., c])
        r_mean, r_std = cv2.meanStdDev(ref[..., c])
        s_mean, s_std, r_mean, r_std = (float(v[0][0]) for v in (s_mean, s_std, r_mean, r_std))
        gain = min(2.0, max(0.5, r_std / s_std)) if s_std > 0.5 else 1.0
        out[..., c] = np.clip(src[..., c].astype(np.float32) * gain + (r_mean - s_mean * gain) + 0.5, 0, 255)
    return cv2.cvtColor(out, cv2.COLOR_LAB2RGB)


def jpeg(img: np.ndarray, quality: int = 85) -> bytes:
    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(img, cv2.COLOR_RGB2BGR),
                           [cv2.IMWRITE_JPEG_QUALITY, quality, cv2.IMWRITE_JPEG_PROGRESSIVE, 1,
                            cv2.IMWRITE_JPEG_OPTIMIZE, 1])
    if not ok:
        raise ValueError("could not encode")
    return buf.tobytes()
