"""Reading a source and cutting it into chunk files: the split step's machinery.

Source reading (``source_reader``), record scanning (``records``, the C scanner
``_textscan``), the header check, the splitter and its run (``run``), rejects.
"""
