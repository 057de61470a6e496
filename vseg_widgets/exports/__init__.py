"""Exports of the work to the tools people train and share with.

- :mod:`.overlay_video`: the video with the masks drawn in, as MP4 or GIF (``seg.export_video``);
- :mod:`.youtube_vis`: YouTube-VIS JSON, COCO RLE per frame (``seg.masks.to_youtube_vis``);
- :mod:`.yolo`: YOLO segmentation polygons, one .txt per frame (``seg.masks.to_yolo``).

DAVIS PNG folders and COCO RLE JSON are :class:`~vseg_widgets.masks.MaskStore` methods
(``to_png_folder``, ``to_coco_json``). Every format that can be read back has its reader.
"""

UNLABELLED = "object"  # the category / class name of an object without a label
