"""Movies for a mood from a MovieLens-based catalog: `recommend("sad", mode="lift")`."""

from .catalog import Catalog, CatalogError, load_catalog
from .rank import MODES, Filters
from .recommend import like_this, recommend

__all__ = ["Catalog", "CatalogError", "Filters", "MODES", "like_this", "load_catalog", "recommend"]
