"""Type stubs of the compiled core (panoseg/_core.pyx). Use the documented Python wrappers.

Which wrapper calls which C++ entry point (declared in panoseg/_core.pxd, one block per header):

=========================  =====================================  ============================
Python (panoseg._core)     C++ (namespace panoseg)                header (csrc/)
=========================  =====================================  ============================
rgb2id                     rgb_to_id                              io/rgb_id.hpp
id2rgb                     id_to_rgb                              io/rgb_id.hpp
png_unfilter_ids           png_unfilter_rgb_to_id                 io/png_unfilter.hpp
png_filtered_scanlines     png_filter_ids                         io/png_filter.hpp
png_encode_sparse          png_encode_sparse_rgb                  io/png_deflate.hpp
runs_to_rle_strings        rle_encode_intervals                   io/rle.hpp
rle_intervals              rle_decode_intervals                   io/rle.hpp
segment_ids                distinct_ids                           io/segment_stats.hpp
segment_areas_bboxes       segment_stats                          io/segment_stats.hpp
match_image                count_pairs, pq_match, extra_metrics,  eval/pair_count.hpp,
                           count_band_pairs, pq_match_boundary    eval/pq_match.hpp,
                                                                  eval/extra_metrics.hpp,
                                                                  eval/boundary_band.hpp
boundary_band              boundary_band_flags                    eval/boundary_band.hpp
match_png                  count_pairs_png, pq_match,             (the same)
                           extra_metrics
PngPairMatcher             PngPairStream (class), pq_match,       (the same)
                           extra_metrics, pq_match_boundary
match_png_files            count_pairs_png_files, pq_match,       eval/png_pair_file.hpp
                           extra_metrics, pq_match_boundary       (over io/png_read.hpp)
match_png_files_into_sink  count_pairs_png_paths, pq_match, ...,  (the same)
                           StatsSink::add
StatsSink                  StatsSink (class)                      eval/stats_sink.hpp
boundary_dilation_pixels   boundary_dilation                      eval/png_pair_file.hpp
segment_table_arrays       (a C loop over segments_info dicts)    -
segment_tables             (the same, many annotations at once)   -
scan_panoptic_json         scan_panoptic_json                     io/panoptic_json_scan.hpp
ScannedPanopticJson        scanned_segment_tables,                io/panoptic_json_scan.hpp
                           scanned_segment_count
paste_intervals            paste_masks_intervals                  merge/mask_paste.hpp
paste_dense                paste_masks_dense                      merge/mask_paste.hpp
label_intervals            label_map_intervals                    merge/panoptic_merge.hpp
dense_intervals            dense_masks_intervals                  merge/panoptic_merge.hpp
SegmentIdAssigner          SegmentIdAssigner (class)              merge/panoptic_merge.hpp
merge                      panoptic_merge, render_runs,           merge/panoptic_merge.hpp
                           runs_to_png_up_scanlines, run_stats,
                           transpose_u32, thread_scratch_canvas,
                           runs_to_up_pixels
merge_rles_png             rle_decode_intervals, panoptic_merge,  io/rle.hpp,
                           runs_to_up_pixels,                     merge/panoptic_merge.hpp,
                           png_encode_sparse_rgb, run_stats,      io/png_deflate.hpp,
                           write_file_atomic                      io/file_write.hpp
scan_merge_results         scan_merge_results                     merge/results_scan.hpp
ScannedMergeResults        group_merge_results                    merge/results_scan.hpp
merge_scanned_png          rle_decode_intervals, panoptic_merge,  merge/results_scan.hpp
                           png_encode_sparse_rgb, run_stats,
                           write_file_atomic
segment_labels             ids_to_labels                          semantic/label_map.hpp
MAX_SEGMENT_ID             kMaxSegmentId                          io/rgb_id.hpp
PNG_PIECE_BYTES            kPngPieceBytes                         eval/png_pair_file.hpp
MAX_SIDE                   (the wrappers' size checks)            -
max_png_file_bytes         png_file_limit                         io/png_read.hpp
max_png_bytes_for_head     png_head_limit                         io/png_read.hpp
MAX_PIXELS                 (the wrappers' size checks)            -
CoreError and subclasses   Status, StatusCode, StatusWhere        common/status.hpp
=========================  =====================================  ============================

The error convention: every fallible kernel returns a ``Status`` (code, input, offending
index, offending value); a failed one becomes a :class:`CoreError` (a ``ValueError``): :class:`TableError` for
segment tables and mask lists, :class:`RleError` for undecodable RLEs, :class:`PngDataError` for
corrupt PNG image data, :class:`CoreError` itself for anything else. ``code`` is the C++
``StatusCode`` name, ``side`` the input (``"gt"``, ``"pred"``, ``"instance"``, ``"stuff"``,
``"segment"``, ``"mask"``, ``"pixel"`` or None), ``index`` the offending row / mask / scanline
(or None), ``value`` the offending value, ``pixel`` the ``(x, y)`` of an error at a pixel.
A wrapper's own argument checks raise plain ``ValueError``, also for an integer argument outside
its range (a size, a count, a seed: never an ``OverflowError`` about C types); sizes are checked
against the data before anything is allocated, and running out of memory is a ``MemoryError``.
"""
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import numpy.typing as npt

MAX_SEGMENT_ID: int
PNG_PIECE_BYTES: int  # inflated bytes per piece and PNG in match_png_files
MAX_SIDE: int  # the largest image side a kernel takes (sizes never overflow int64)
MAX_PIXELS: int  # the largest pixel count a kernel takes

class CoreError(ValueError):
    side: Optional[str]
    index: Optional[int]
    code: Optional[str]
    value: Optional[int]
    pixel: Optional[Tuple[int, int]]
    def __init__(self, message: str, side: Optional[str] = ..., index: Optional[int] = ..., *,
                 code: Optional[str] = ..., value: Optional[int] = ...,
                 pixel: Optional[Tuple[int, int]] = ...) -> None: ...

class TableError(CoreError):
    side: str
    def __init__(self, message: str, side: str, index: Any, **kwargs: Any) -> None: ...

class RleError(CoreError):
    index: int
    def __init__(self, message: str, index: int, **kwargs: Any) -> None: ...

class PngDataError(CoreError):
    def __init__(self, message: str, side: Optional[str], index: Optional[int] = ...,
                 **kwargs: Any) -> None: ...

def rgb2id(rgb: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint32]: ...
def id2rgb(ids: npt.NDArray[np.uint32]) -> npt.NDArray[np.uint8]: ...
def png_unfilter_ids(data: bytes, height: int, width: int) -> npt.NDArray[np.uint32]: ...
def png_filtered_scanlines(ids: npt.NDArray[np.uint32], out: Any = ...) -> memoryview: ...
def png_encode_sparse(ys: npt.NDArray[np.int32], xs: npt.NDArray[np.int32],
                      rgb: npt.NDArray[np.uint8], height: int, width: int,
                      filter: int = ...) -> bytes: ...
def runs_to_rle_strings(offsets: npt.NDArray[np.int64], intervals: npt.NDArray[np.int64],
                        n_pixels: int) -> List[str]: ...
def rle_intervals(rles: List[Union[str, bytes, np.ndarray]], height: int,
                  width: int) -> Tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]: ...
def segment_ids(id_map: npt.NDArray[np.uint32]) -> npt.NDArray[np.uint32]: ...
def segment_areas_bboxes(id_map: npt.NDArray[np.uint32], ids: npt.NDArray[np.uint32]
                         ) -> Tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]: ...
def match_image(
    gt_map: npt.NDArray[np.uint32], pred_map: npt.NDArray[np.uint32],
    gt_ids: npt.NDArray[np.uint32], gt_category: npt.NDArray[np.int32],
    gt_iscrowd: npt.NDArray[np.uint8], gt_area: npt.NDArray[np.float64],
    pred_ids: npt.NDArray[np.uint32], pred_category: npt.NDArray[np.int32],
    n_categories: int, category_isthing: Optional[npt.NDArray[np.uint8]] = ...,
    dilation: int = ...
) -> Dict[str, np.ndarray]: ...
def boundary_band(id_map: npt.NDArray[np.uint32], dilation: int) -> npt.NDArray[np.uint8]: ...
def match_png(gt_raw: bytes, pred_raw: bytes, height: int, width: int,
              gt_ids: npt.NDArray[np.uint32], gt_category: npt.NDArray[np.int32],
              gt_iscrowd: npt.NDArray[np.uint8], gt_area: npt.NDArray[np.float64],
              pred_ids: npt.NDArray[np.uint32], pred_category: npt.NDArray[np.int32],
              n_categories: int, category_isthing: Optional[npt.NDArray[np.uint8]] = ...
              ) -> Optional[Dict[str, np.ndarray]]: ...
def max_png_file_bytes(max_pixels: int) -> int: ...
def max_png_bytes_for_head(head: bytes, max_pixels: int) -> int: ...
def match_png_files(gt_png: Union[bytes, str], pred_png: Union[bytes, str], max_pixels: int,
                    gt_size: Optional[Tuple[int, int]], gt_ids: npt.NDArray[np.uint32],
                    gt_category: npt.NDArray[np.int32], gt_iscrowd: npt.NDArray[np.uint8],
                    gt_area: npt.NDArray[np.float64], pred_ids: npt.NDArray[np.uint32],
                    pred_category: npt.NDArray[np.int32], n_categories: int,
                    category_isthing: Optional[npt.NDArray[np.uint8]] = ...,
                    dilation_ratio: float = ..., sink: Optional[StatsSink] = ...
                    ) -> Union[None, bool, Dict[str, np.ndarray]]: ...
def match_png_files_into_sink(gt_pngs: Sequence[str], pred_pngs: Sequence[str],
                              gt_sizes: Sequence[Optional[Tuple[int, int]]],
                              gt_tables: Sequence[Any], pred_tables: Sequence[Any],
                              max_pixels: int, n_categories: int,
                              category_isthing: Optional[npt.NDArray[np.uint8]] = ...,
                              dilation_ratio: float = ..., sink: Optional[StatsSink] = ...
                              ) -> int: ...
class StatsSink:
    def __init__(self, n_categories: int, boundary: bool) -> None: ...
    @property
    def n_categories(self) -> int: ...
    @property
    def boundary(self) -> bool: ...
    def drain(self) -> Tuple[int, int, npt.NDArray[np.int64], npt.NDArray[np.int32],
                             npt.NDArray[np.int32], npt.NDArray[np.int64],
                             npt.NDArray[np.float64]]: ...
def boundary_dilation_pixels(height: int, width: int, dilation_ratio: float) -> int: ...
def segment_table_arrays(segments: list, index_of: dict, is_gt: bool
                         ) -> Optional[Tuple[npt.NDArray[np.uint32], npt.NDArray[np.int32],
                                             npt.NDArray[np.uint8], npt.NDArray[np.float64]]]: ...
def segment_tables(annotations: list, index_of: dict, is_gt: bool
                   ) -> Tuple[npt.NDArray[np.int64], List[bool], npt.NDArray[np.uint32],
                              npt.NDArray[np.int32], npt.NDArray[np.uint8],
                              npt.NDArray[np.float64]]: ...
class ScannedPanopticJson:
    @property
    def image_ids(self) -> List[int]: ...
    @property
    def file_names(self) -> List[str]: ...
    @property
    def images(self) -> Optional[bytes]: ...
    @property
    def categories(self) -> Optional[bytes]: ...
    def image_sizes(self, max_pixels: int) -> Optional[Dict[int, Tuple[int, int]]]: ...
    def tables(self, annotations: npt.NDArray[np.int64], category_ids: npt.NDArray[np.int64],
               category_index: npt.NDArray[np.int32], is_gt: bool
               ) -> Tuple[npt.NDArray[np.int64], List[bool], npt.NDArray[np.uint32],
                          npt.NDArray[np.int32], npt.NDArray[np.uint8],
                          npt.NDArray[np.float64]]: ...
def scan_panoptic_json(data: bytes) -> Optional[ScannedPanopticJson]: ...
class PngPairMatcher:
    def __init__(self, height: int, width: int, gt_ids: npt.NDArray[np.uint32],
                 gt_category: npt.NDArray[np.int32], gt_iscrowd: npt.NDArray[np.uint8],
                 gt_area: npt.NDArray[np.float64], pred_ids: npt.NDArray[np.uint32],
                 pred_category: npt.NDArray[np.int32], n_categories: int,
                 category_isthing: Optional[npt.NDArray[np.uint8]] = ...,
                 dilation: int = ...) -> None: ...
    def feed(self, gt_chunk: bytes, pred_chunk: bytes) -> None: ...
    def finish(self) -> Optional[Dict[str, np.ndarray]]: ...
def paste_intervals(probs: npt.NDArray[np.float32], boxes: npt.NDArray[np.float32], height: int,
                    width: int, column_major: bool, threads: int = ..., pillow13_order: bool = ...
                    ) -> Tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]: ...
def paste_dense(probs: npt.NDArray[np.float32], boxes: npt.NDArray[np.float32], height: int,
                width: int, threads: int = ..., pillow13_order: bool = ...
                ) -> npt.NDArray[np.uint8]: ...
def label_intervals(labels: npt.NDArray[np.int32],
                    n_labels: int) -> Tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]: ...
def dense_intervals(masks: npt.NDArray[np.uint8]
                    ) -> Tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]: ...

class SegmentIdAssigner:
    def __init__(self, stuff_colour_ids: Union[npt.ArrayLike, List[int]], seed: int,
                 expected_segments: int = ...) -> None: ...
    def thing_id(self, colour_id: int) -> int: ...
    def stuff_id(self, colour_id: int) -> int: ...

def merge(height: int, width: int, column_major: bool,
          inst_offsets: npt.NDArray[np.int64], inst_intervals: npt.NDArray[np.int64],
          inst_category: npt.NDArray[np.int32],
          stuff_offsets: npt.NDArray[np.int64], stuff_intervals: npt.NDArray[np.int64],
          stuff_category: npt.NDArray[np.int32],
          category_colour: npt.NDArray[np.uint32], category_isthing: npt.NDArray[np.uint8],
          overlap_thr: float, stuff_area_limit: float, seed: int, out: Any = ...,
          scanlines: Any = ..., png: bool = ...
          ) -> Tuple[Union[None, bytes, npt.NDArray[np.uint32]], Dict[str, np.ndarray]]: ...
def merge_rles_png(height: int, width: int, inst_rles: List[Union[str, bytes]],
                   inst_category: List[int], stuff_rles: List[Union[str, bytes]],
                   stuff_category: List[int], category_colour: Any, category_isthing: Any,
                   overlap_thr: float, stuff_area_limit: float, seed: int,
                   out_path: Optional[bytes] = ...
                   ) -> Tuple[Optional[bytes],
                              List[Tuple[int, int, int, bool, int, List[int]]]]: ...
class ScannedMergeResults:
    @property
    def with_score(self) -> bool: ...
    def __len__(self) -> int: ...
    def group(self, image_index: Dict[Union[int, str], int], heights: Any, widths: Any,
              category_ids: Any, category_index: Any, allowed: Any,
              confidence_thr: float = ...) -> bool: ...
    def entries(self) -> List[Tuple[Union[int, str], int, Optional[float], Optional[List[int]],
                                    Optional[str]]]: ...
    def rows(self, image: int) -> List[int]: ...
    def scores(self, image: int) -> List[float]: ...
def scan_merge_results(data: bytes, with_score: bool) -> Optional[ScannedMergeResults]: ...
def merge_scanned_png(height: int, width: int, instances: ScannedMergeResults,
                      stuff: ScannedMergeResults, image: int, category_colour: Any,
                      category_isthing: Any, overlap_thr: float, stuff_area_limit: float,
                      seed: int, out_path: Optional[bytes] = ...
                      ) -> Tuple[Optional[bytes],
                                 List[Tuple[int, int, int, bool, int, List[int]]]]: ...
def segment_labels(id_map: npt.NDArray[np.uint32], seg_ids: npt.NDArray[np.uint32],
                   seg_labels: npt.NDArray[np.uint8], void_label: int) -> npt.NDArray[np.uint8]: ...
