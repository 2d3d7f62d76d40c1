"""The web player page (static/) and the headless-browser playback check (browser.py)."""
