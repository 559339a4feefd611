"""Movies for a mood from a MovieLens-based catalog: `recommend("sad", mode="lift")`."""

from .catalog import Catalog, CatalogError, load_catalog
from .rank import MODES, Filters
from .recommend import recommend

__all__ = ["Catalog", "CatalogError", "Filters", "MODES", "load_catalog", "recommend"]
