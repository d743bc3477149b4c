"""Pure spatial analysis: GeoDataFrames / shapely arrays in, same out. No I/O."""
