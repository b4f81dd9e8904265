"""Real photos to align, and views of them taken "again" with a known shift, zoom, turn and light.

The photos are the ones scikit-image ships in its wheel (a cat's fur, grass, gravel, a coffee
cup, an astronaut, a rocket): real camera pictures, no download. A scene is one of them
enlarged to 2,200 px; a *view* is a 1,000 x 750 px JPEG of that scene, the way a phone would
take it from a given distance and angle. The true transform between two views is known, so a
test can say how far off the recovered one is.
"""

from __future__ import annotations

import math
from functools import cache

import cv2
import numpy as np
from skimage import data as skdata

from webapp.photos import align

VIEW = (1000, 750)  # width, height of a view: "at 1,000 px" in the tolerances
FUR_AND_TEXTURE = ("chelsea", "grass", "gravel", "coffee", "astronaut", "rocket")


@cache
def scene(name: str, side: int = 2200) -> np.ndarray:
    img = getattr(skdata, name)()
    if img.ndim == 2:
        img = np.dstack([img] * 3)
    img = np.ascontiguousarray(img[..., :3])
    h, w = img.shape[:2]
    k = side / max(h, w)
    return cv2.resize(img, (round(w * k), round(h * k)), interpolation=cv2.INTER_CUBIC)


def camera(name: str, *, zoom: float = 1.0, degrees: float = 0.0, shift: tuple[float, float] = (0, 0),
           size: tuple[int, int] = VIEW) -> np.ndarray:
    """View pixel -> scene pixel (2x3) for a phone held ``zoom`` times closer, turned, moved."""
    s = scene(name)
    cx, cy = s.shape[1] / 2 + shift[0], s.shape[0] / 2 + shift[1]
    theta = math.radians(degrees)
    k = 1.4 / zoom  # a view pixel covers this many scene pixels
    m = np.array([[k * math.cos(theta), -k * math.sin(theta), 0.0], [k * math.sin(theta), k * math.cos(theta), 0.0]])
    m[:, 2] = np.array([cx, cy]) - m[:, :2] @ np.array([size[0] / 2, size[1] / 2])
    return m


def shoot(name: str, cam: np.ndarray, *, size: tuple[int, int] = VIEW, gain: float = 1.0,
          tint: tuple[float, float, float] = (1.0, 1.0, 1.0), quality: int = 90) -> bytes:
    """The view through ``cam`` as a JPEG, with its exposure scaled by ``gain`` and colour by ``tint``."""
    img = cv2.warpAffine(scene(name), cam, size, flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                         borderMode=cv2.BORDER_REFLECT)
    img = np.clip(img.astype(np.float32) * gain * np.array(tint, np.float32), 0, 255).astype(np.uint8)
    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(img, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality])
    assert ok
    return buf.tobytes()


def truth(new_cam: np.ndarray, ref_cam: np.ndarray) -> np.ndarray:
    """The true map from the new view's pixels to the reference view's pixels."""
    return align.compose(align.invert(ref_cam), new_cam)


def corner_error(found: align.Alignment, true_px: np.ndarray, new_size: tuple[int, int] = VIEW,
                 ref_size: tuple[int, int] = VIEW) -> float:
    """Mean distance (reference px) between where the new view's corners land, found vs true."""
    m = found.matrix().copy()  # normalized -> pixels of each view
    m[:, :2] *= max(ref_size) / max(new_size)
    m[:, 2] *= max(ref_size)
    c = align.corners(*new_size) * max(new_size)
    return float(np.linalg.norm(align.apply(m, c) - align.apply(true_px, c), axis=1).mean())
