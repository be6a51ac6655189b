"""DB's training targets from text polygons (Liao et al. 2020, Sec. 3.3): the probability map is each polygon
shrunk by the Vatti offset D = A (1 - r^2) / L (A its area, L its perimeter, r = 0.4); the threshold map rises
from 0 at D from the polygon's edges to 1 on them, within the polygon expanded by D, scaled to [0.3, 0.7].
Offsets by ``pyclipper``; filling and the distance to the edges by OpenCV."""
from dataclasses import dataclass
from typing import Dict, List, Sequence

import cv2
import numpy as np
import pyclipper


def area_per_length(polygon: np.ndarray) -> float:
    """A / L, a polygon's ``(n, 2)`` area over its perimeter: both of DB's offsets are a multiple of it."""
    polygon = polygon.astype(np.float32)
    perimeter = cv2.arcLength(polygon, closed=True)
    return cv2.contourArea(polygon) / perimeter if perimeter > 0 else 0.0


def offset_distance(polygon: np.ndarray, ratio: float) -> float:
    """The shrink of the labels, D = A (1 - r^2) / L (Sec. 3.3)."""
    return area_per_length(polygon) * (1 - ratio ** 2)


def offset_polygon(polygon: np.ndarray, distance: float) -> List[np.ndarray]:
    """The polygon grown (``distance > 0``) or shrunk (``< 0``) by ``distance`` pixels, round joins (Vatti
    clipping); a shrink can leave no polygon or several."""
    offset = pyclipper.PyclipperOffset()
    offset.AddPath(np.round(polygon).astype(np.int64).tolist(), pyclipper.JT_ROUND, pyclipper.ET_CLOSEDPOLYGON)
    return [np.asarray(path, dtype=np.float32) for path in offset.Execute(distance)]


@dataclass
class DBTargets:
    """Maps of a page of ``height x width`` from its text polygons (``(n, 2)`` pixel coordinates) and which of
    them are don't-care (``###``): ``prob`` and ``prob_mask`` (0 over don't-care text and polygons too small to
    shrink: no loss there), ``thresh`` and ``thresh_mask`` (the expanded polygons)."""
    shrink_ratio: float = 0.4
    thresh_min: float = 0.3
    thresh_max: float = 0.7
    min_text_size: int = 8

    def __call__(self, polygons: Sequence[np.ndarray], ignore: Sequence[bool], height: int,
                 width: int) -> Dict[str, np.ndarray]:
        prob = np.zeros((height, width), np.float32)
        prob_mask = np.ones((height, width), np.float32)
        thresh = np.zeros((height, width), np.float32)
        thresh_mask = np.zeros((height, width), np.float32)
        for polygon, ignored in zip(polygons, ignore):
            polygon = np.asarray(polygon, dtype=np.float32)
            small = min(cv2.minAreaRect(polygon)[1]) < self.min_text_size
            distance = offset_distance(polygon, self.shrink_ratio)
            shrunk = offset_polygon(polygon, -distance) if not (ignored or small) and distance > 0 else []
            if not shrunk:
                cv2.fillPoly(prob_mask, [np.round(polygon).astype(np.int32)], 0.0)
                continue
            cv2.fillPoly(prob, [np.round(p).astype(np.int32) for p in shrunk], 1.0)
            self.draw_border(polygon, distance, thresh, thresh_mask)
        return dict(prob=prob, prob_mask=prob_mask,
                    thresh=thresh * (self.thresh_max - self.thresh_min) + self.thresh_min, thresh_mask=thresh_mask)

    @staticmethod
    def draw_border(polygon: np.ndarray, distance: float, thresh: np.ndarray, mask: np.ndarray) -> None:
        """Within the polygon expanded by ``distance``: 1 - (distance to the polygon's edges) / ``distance``,
        clipped to [0, 1], kept where it is above what earlier polygons drew."""
        expanded = offset_polygon(polygon, distance)
        if not expanded:
            return
        outline = max(expanded, key=len)
        cv2.fillPoly(mask, [np.round(outline).astype(np.int32)], 1.0)
        height, width = thresh.shape
        x0, y0 = np.floor(outline.min(0)).astype(int)
        x1, y1 = np.ceil(outline.max(0)).astype(int) + 1
        edges = np.ones((y1 - y0, x1 - x0), np.uint8)  # 0 on the polygon's edges, in the expanded box
        cv2.polylines(edges, [np.round(polygon - (x0, y0)).astype(np.int32)], True, 0, 1)
        closeness = 1 - np.clip(cv2.distanceTransform(edges, cv2.DIST_L2, cv2.DIST_MASK_PRECISE) / distance, 0, 1)
        cx0, cy0, cx1, cy1 = max(x0, 0), max(y0, 0), min(x1, width), min(y1, height)
        if cx0 >= cx1 or cy0 >= cy1:
            return
        window = closeness[cy0 - y0:cy1 - y0, cx0 - x0:cx1 - x0]
        np.maximum(thresh[cy0:cy1, cx0:cx1], window, out=thresh[cy0:cy1, cx0:cx1])
