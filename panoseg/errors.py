"""The one exception panoseg raises for bad input, with the place where the input is bad."""
from __future__ import annotations


class PanopticFormatError(ValueError):
    """Input that does not follow the COCO panoptic format.

    The message names the file, the image and the segment concerned (when known), then says what
    is wrong, e.g. ``pred.json: image 42 (000042.png): segment 7: category_id 999 is unknown``.
    The parts are also available as attributes for programs that want them.
    """

    def __init__(self, problem: str, *, file=None, image_id=None, file_name=None, segment_id=None):
        self.problem = problem
        self.file = None if file is None else str(file)
        self.image_id = image_id
        self.file_name = file_name
        self.segment_id = segment_id
        super().__init__(self._format())

    def _format(self) -> str:
        where = []
        if self.file is not None:
            where.append(self.file)
        if self.image_id is not None:
            image = f"image {self.image_id}"
            if self.file_name is not None:
                image += f" ({self.file_name})"
            where.append(image)
        elif self.file_name is not None:
            where.append(self.file_name)
        if self.segment_id is not None:
            where.append(f"segment {self.segment_id}")
        return ": ".join(where + [self.problem])


def add_note(error: BaseException, note: str) -> None:
    """Adds ``note`` to ``error``'s notes (``BaseException.add_note`` before Python 3.11): the
    CLI prints them after the message, on the same line."""
    error.__notes__ = list(getattr(error, "__notes__", None) or ()) + [note]
