from .cli import lightocr_main

lightocr_main()
