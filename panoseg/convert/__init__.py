"""Conversions between COCO panoptic and the other formats of panopticapi's converters.

Python 3, numpy-vectorized and thread-parallel versions of the scripts in panopticapi's
``converters/`` folder, one module each:

=====================================  =================================================
panopticapi script                     panoseg function (module)
=====================================  =================================================
``2channels2panoptic_coco_format.py``  :func:`two_channel_to_panoptic` (``two_channel``)
``panoptic2detection_coco_format.py``  :func:`panoptic_to_detection` (``detection``)
``detection2panoptic_coco_format.py``  :func:`detection_to_panoptic` (``detection``)
``panoptic2semantic_segmentation.py``  :func:`panoptic_to_semantic` (``semantic``; PNG mode)
=====================================  =================================================

``common`` holds what they share (input checks, writers, the per-image loop).

What is kept from panopticapi and what differs (on purpose):

* Segment ids are colours, as panopticapi's ``IdGenerator`` makes them: a stuff segment gets
  its category colour; the first thing instance of a category in an image gets the category
  colour, the next ones a colour jittered by up to +-30 per channel. panopticapi draws the
  jitter from the global, unseeded numpy RNG, so its output changes from run to run and with
  the number of processes. Here the ids come from panoseg's one segment-id scheme,
  :class:`panoseg.io.segment_ids.SegmentIds` (the merge's): stuff colours are reserved for
  stuff, and the jitter is drawn from a generator seeded with ``image_seed(seed, image_id)``,
  so the ids depend on the image (and ``seed``, default 0 as in ``merge``) only: the same for
  any ``workers``, in any run, and the same as :func:`panoseg.merge.merge_panoptic` gives the
  same segments asked for in the same order (things, in listing order, then stuff). Ids are
  unique within an image and never 0 (VOID). A category without ``color`` gets
  :func:`panoseg.io.categories.category_color`'s derived one.
* Every input is checked; anything wrong raises :class:`~panoseg.errors.PanopticFormatError`
  naming the file, the image and the segment (or detection annotation). RLE is checked and
  decoded by the core (:mod:`panoseg.io.rle`), never handed to pycocotools, which decodes
  corrupt RLE into garbage (or past the end of its buffer) instead of failing.
* Outputs are written atomically (``write_ids`` for PNGs, ``atomic_open`` for JSON); folders
  are created. Images are processed by :func:`~panoseg.util.parallel.ordered_map`, in input
  order, so the output does not depend on ``workers``.
"""
from .detection import detection_to_panoptic, panoptic_to_detection
from .semantic import OTHER_CLASS_ID, panoptic_to_semantic
from .two_channel import CROWD_INSTANCE, two_channel_to_panoptic

__all__ = ["CROWD_INSTANCE", "OTHER_CLASS_ID", "detection_to_panoptic", "panoptic_to_detection",
           "panoptic_to_semantic", "two_channel_to_panoptic"]
