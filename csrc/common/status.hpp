// The one way a kernel reports bad input.
//
// C++ never trusts its inputs: every entry point that can meet bad input checks it and returns a
// Status rather than throwing, asserting or reading out of bounds. A Status says
//   - what is wrong (`code`),
//   - which input it is wrong in (`where`: the GT or the prediction, the instance or the stuff
//     masks, a segment table, a list of masks, the pixels of a map; kNone for the only input),
//   - where in that input (`index`, -1 when the input as a whole is wrong): a table row for the
//     table codes, a mask for the mask and RLE codes, a scanline for the PNG codes, a pixel
//     (row-major, y * width + x) for the map codes,
//   - and the offending value when there is one (`value`: a segment id, a category index, a label,
//     a filter type, a data size).
// A kernel that loops over a list of items reports the item as `index` with `where` naming the
// list, so no caller ever decodes an index (no "-1 - row" encodings).
//
// The Cython layer turns a failed Status into one exception family (panoseg._core.CoreError, a
// ValueError, with `.code`, `.side` and `.index`; see _core.pyx).
#pragma once
#include <cstdint>

namespace panoseg {

enum class StatusCode : int32_t {
  kOk = 0,
  // Segment tables and id maps.
  kBadId = 1,         // a table id that is 0 (VOID) or above kMaxSegmentId
  kDuplicateId = 2,   // an id listed twice in one table (index: the second row)
  kUnknownId = 3,     // a pixel holds an id its table does not list
  kIdTooLarge = 4,    // an id map holds an id above kMaxSegmentId (no RGB colour for it)
  kBadCategory = 5,   // a category index out of range, or not a thing where a thing is needed
  kBadLabel = 6,      // a label map holds a value >= the number of labels
  // Masks.
  kBadIntervals = 7,  // intervals unsorted, overlapping, empty or outside the image
  kBadBox = 8,        // a paste box that is not finite, inverted or beyond 1e7
  kBadMask = 9,       // a paste mask outside 1x1..1024x1024 or holding a non-finite sample
  // PNG image data (after inflate).
  kPngSizeMismatch = 10,  // not height * (1 + 3 * width) bytes (value: the size)
  kPngBadFilter = 11,     // a scanline starts with a filter type outside 0..4 (value: it)
  // COCO RLE.
  kRleBadCharacter = 12,   // a character outside 48..111
  kRleTruncated = 13,      // the string ends inside a number
  kRleNegativeCount = 14,  // a run decodes to a negative or huge count
  kRleWrongTotal = 15,     // the runs do not add up to height * width
  // Anything else.
  kBadArgument = 16,  // a size or count that cannot be right (negative, inconsistent), null data
  // A PNG file the core's reader does not decode (io/png_read.hpp: corrupt, not 8-bit RGB,
  // interlaced, too large, of another size than expected); the caller's own reader explains.
  kPngFile = 17,
};

// The input a Status's index points into.
enum class StatusWhere : int32_t {
  kNone = 0,      // the kernel's only input of that kind
  kGt = 1,        // the ground truth's segment table / PNG
  kPred = 2,      // the prediction's
  kInstance = 3,  // the instance masks of a merge or a paste
  kStuff = 4,     // the stuff masks of a merge
  kSegment = 5,   // the segment table of an id map
  kMask = 6,      // a list of masks or RLEs
  kPixel = 7,     // the pixels of a map
};

struct Status {
  StatusCode code = StatusCode::kOk;
  StatusWhere where = StatusWhere::kNone;
  int64_t index = -1;
  int64_t value = 0;

  bool ok() const { return code == StatusCode::kOk; }
};

inline Status ok_status() { return Status(); }

inline Status fail(StatusCode code, StatusWhere where = StatusWhere::kNone, int64_t index = -1,
                   int64_t value = 0) {
  Status s;
  s.code = code;
  s.where = where;
  s.index = index;
  s.value = value;
  return s;
}

// The same failure, reported against an item of a list: `where` is the list, `index` the item.
inline Status at_item(Status s, StatusWhere where, int64_t item) {
  if (!s.ok()) {
    s.where = where;
    s.index = item;
  }
  return s;
}

}  // namespace panoseg
