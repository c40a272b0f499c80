"""Type stubs of the compiled core (panoseg/_core.pyx). Use the documented Python wrappers."""
from typing import Any, Dict, List, Optional, Tuple, Union

import numpy as np
import numpy.typing as npt

MAX_SEGMENT_ID: int

class TableError(ValueError):
    side: str
    index: Any
    def __init__(self, message: str, side: str, index: Any) -> None: ...

class RleError(ValueError):
    index: int
    def __init__(self, message: str, index: int) -> None: ...

def rgb2id(rgb: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint32]: ...
def id2rgb(ids: npt.NDArray[np.uint32]) -> npt.NDArray[np.uint8]: ...
def png_unfilter_ids(data: bytes, height: int, width: int) -> npt.NDArray[np.uint32]: ...
def match_image(
    gt_map: npt.NDArray[np.uint32], pred_map: npt.NDArray[np.uint32],
    gt_ids: npt.NDArray[np.uint32], gt_category: npt.NDArray[np.int32],
    gt_iscrowd: npt.NDArray[np.uint8], gt_area: npt.NDArray[np.float64],
    pred_ids: npt.NDArray[np.uint32], pred_category: npt.NDArray[np.int32],
    n_categories: int) -> Dict[str, np.ndarray]: ...
class PngDataError(ValueError):
    side: str
    def __init__(self, message: str, side: str) -> None: ...

def match_png(gt_raw: bytes, pred_raw: bytes, height: int, width: int,
              gt_ids: npt.NDArray[np.uint32], gt_category: npt.NDArray[np.int32],
              gt_iscrowd: npt.NDArray[np.uint8], gt_area: npt.NDArray[np.float64],
              pred_ids: npt.NDArray[np.uint32], pred_category: npt.NDArray[np.int32],
              n_categories: int) -> Optional[Dict[str, np.ndarray]]: ...
def rle_intervals(rles: List[Union[str, bytes, np.ndarray]], height: int,
                  width: int) -> Tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]: ...
def paste_intervals(probs: npt.NDArray[np.float32], boxes: npt.NDArray[np.float32], height: int,
                    width: int, column_major: bool
                    ) -> Tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]: ...
def paste_dense(probs: npt.NDArray[np.float32], boxes: npt.NDArray[np.float32], height: int,
                width: int) -> npt.NDArray[np.uint8]: ...
def label_intervals(labels: npt.NDArray[np.int32],
                    n_labels: int) -> Tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]: ...
def dense_intervals(masks: npt.NDArray[np.uint8]
                    ) -> Tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]: ...
def merge(height: int, width: int, column_major: bool,
          inst_offsets: npt.NDArray[np.int64], inst_intervals: npt.NDArray[np.int64],
          inst_category: npt.NDArray[np.int32],
          stuff_offsets: npt.NDArray[np.int64], stuff_intervals: npt.NDArray[np.int64],
          stuff_category: npt.NDArray[np.int32],
          category_colour: npt.NDArray[np.uint32], category_isthing: npt.NDArray[np.uint8],
          overlap_thr: float, stuff_area_limit: float,
          seed: int, out: Any = ...) -> Tuple[npt.NDArray[np.uint32], Dict[str, np.ndarray]]: ...
def segment_ids(id_map: npt.NDArray[np.uint32]) -> npt.NDArray[np.uint32]: ...
def segment_areas_bboxes(id_map: npt.NDArray[np.uint32], ids: npt.NDArray[np.uint32]
                         ) -> Tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]: ...
def png_filtered_scanlines(ids: npt.NDArray[np.uint32], out: Any = ...) -> memoryview: ...
