"""Place every uploaded account: coordinates, their precision and source, time zone.

Coordinates in the file win. Otherwise a geocoder places the address: the
offline gazetteer by default, or a Nominatim-compatible provider with the
gazetteer behind it. The time zone comes from the coordinates, and from the
state only when there are none.
"""
