"""The dashboard's pages (URL path, title, script) and where their files are installed.

One list, read by the Streamlit app (`app.py` builds its navigation from it), the launcher and
the health check (they find the files with it) and the page-load benchmark. The app and its
page scripts are package data of `audit.dashboard`, so they are found through
importlib.resources wherever the package is installed, never relative to a source checkout.

Page scripts are named `<url>_page.py` so they never share a name with the streamlit-free
logic modules beside them (`views/safety_page.py` draws what `safety.py` computes).
Streamlit-free: imports nothing heavy.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path

APP_SCRIPT = "app.py"
VIEWS = "views"


@dataclass(frozen=True)
class Page:
    url: str  # the page's URL path (`/safety`); also how tests and the benchmark name it
    title: str

    @property
    def script(self) -> str:
        """The page's script relative to the app's folder, as `AppTest.switch_page` takes it."""
        return f"{VIEWS}/{self.url}_page.py"


PAGES: tuple[Page, ...] = (
    Page("runs", "Runs"),
    Page("leaderboard", "Leaderboard"),
    Page("sweep", "Sweep explorer"),
    Page("images", "Images"),
    Page("compare", "Compare"),
    Page("safety", "Safety and provenance"),
    Page("report", "Report"),
)
DEFAULT_PAGE = "runs"
PAGE_URLS: tuple[str, ...] = tuple(p.url for p in PAGES)


def app_dir() -> Path:
    # A Path, not a Traversable: Streamlit runs scripts from the file system. Wheels install
    # unzipped, so the package's resources are real files.
    return Path(str(files("audit.dashboard")))


def app_file() -> Path:
    """The Streamlit entry script (`streamlit run` takes this file)."""
    return app_dir() / APP_SCRIPT


def page(url: str) -> Page:
    for p in PAGES:
        if p.url == url:
            return p
    raise KeyError(f"no dashboard page {url!r}; pages: {', '.join(PAGE_URLS)}")


def page_file(url: str) -> Path:
    """The installed script of page `url`."""
    return app_dir() / page(url).script


def missing_files() -> list[Path]:
    """The app and page scripts that are not where the package says they are."""
    wanted = [app_file(), *(page_file(p.url) for p in PAGES)]
    return [path for path in wanted if not path.is_file()]
