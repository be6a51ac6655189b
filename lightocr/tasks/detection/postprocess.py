"""DB's post-processing (Liao et al. 2020, Sec. 3.4): binarize the probability map, take each connected region's
contour (OpenCV), score it by the mean probability inside, and unclip it by D' = A' r' / L' (r' = 1.5, with
``pyclipper``) back to the size of the text; boxes as quadrilaterals (minimum-area rectangles) or polygons, in
the page's own pixels."""
from dataclasses import dataclass
from typing import List, Tuple

import cv2
import numpy as np

from .targets import area_per_length, offset_polygon


@dataclass
class DBPostProcess:
    """``thresh``: the binarization of P; ``box_thresh``: the least mean probability of a kept region;
    ``unclip_ratio``: r'; ``min_size``: the least side of a kept box (pixels of the map); ``polygons``: polygons
    instead of quadrilaterals; ``max_candidates``: the most regions looked at per page."""
    thresh: float = 0.3
    box_thresh: float = 0.6
    unclip_ratio: float = 1.5
    min_size: float = 3.0
    polygons: bool = False
    max_candidates: int = 1000

    def __call__(self, prob: np.ndarray, scale: Tuple[float, float] = (1.0, 1.0)) -> List[Tuple[np.ndarray, float]]:
        """The ``(points (n, 2), score)`` of each text region of one probability map ``(height, width)``;
        ``scale``: ``(x, y)`` factors from the map's pixels to the page's."""
        bitmap = (prob > self.thresh).astype(np.uint8)
        contours, _ = cv2.findContours(bitmap, cv2.RETR_LIST, cv2.CHAIN_APPROX_SIMPLE)
        height, width = prob.shape
        boxes = []
        for contour in contours[:self.max_candidates]:
            contour = contour.reshape(-1, 2).astype(np.float32)
            if len(contour) < 3 or min(cv2.minAreaRect(contour)[1]) < self.min_size:
                continue
            score = self.mean_score(prob, contour)
            if score < self.box_thresh:
                continue
            shape = contour if self.polygons else cv2.boxPoints(cv2.minAreaRect(contour))
            grown = offset_polygon(shape, unclip_distance(shape, self.unclip_ratio))
            if not grown:
                continue
            grown = max(grown, key=len)
            rect = cv2.minAreaRect(grown)
            if min(rect[1]) < self.min_size + 2:
                continue
            points = grown if self.polygons else order_quad(cv2.boxPoints(rect))
            points = np.clip(points * np.asarray(scale, np.float32), 0, [width * scale[0], height * scale[1]])
            boxes.append((points, score))
        return boxes

    @staticmethod
    def mean_score(prob: np.ndarray, contour: np.ndarray) -> float:
        """The mean probability inside a contour (over its bounding box, masked by the filled contour)."""
        x0, y0 = np.floor(contour.min(0)).astype(int)
        x1, y1 = np.ceil(contour.max(0)).astype(int) + 1
        mask = np.zeros((y1 - y0, x1 - x0), np.uint8)
        cv2.fillPoly(mask, [np.round(contour - (x0, y0)).astype(np.int32)], 1)
        return float(cv2.mean(prob[y0:y1, x0:x1], mask)[0])


def order_quad(points: np.ndarray) -> np.ndarray:
    """A quadrilateral's corners clockwise from the top left (the ICDAR2015 order)."""
    by_x = points[np.argsort(points[:, 0])]
    left, right = by_x[:2], by_x[2:]
    top_left, bottom_left = left[np.argsort(left[:, 1])]
    top_right, bottom_right = right[np.argsort(right[:, 1])]
    return np.array([top_left, top_right, bottom_right, bottom_left], np.float32)


def unclip_distance(polygon: np.ndarray, ratio: float) -> float:
    """D' = A' r' / L' (Sec. 3.4): how far a shrunk region grows back to its text."""
    return area_per_length(polygon) * ratio
