"""Size limits shared by every reader, in a module that imports nothing (the command line's
flags are built from them without loading numpy)."""

#: The largest image panoseg decodes, in pixels (checked from the PNG header, before anything
#: is allocated or inflated): 400 megapixels, e.g. 20000 x 20000, 1.2 GB of RGB.
MAX_PIXELS = 400_000_000

#: The compiled core's own limits (``panoseg._core.MAX_SIDE`` and ``MAX_PIXELS``, equal: tested),
#: spelled here for the modules that check sizes before they load the core.
CORE_MAX_SIDE = (1 << 31) - 1
CORE_MAX_PIXELS = 1 << 40
