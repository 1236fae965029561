"""The generated catalog's vocabulary: product types of upstream's five top-level categories (invented wording).

Each type carries what upstream products carry and what the reward needs: the scraping ``query``, the breadcrumb
``product_category`` ("A \u203a B \u203a C"), the type nouns (``type_tokens``, our stand-in for spaCy's nouns of
the name), bigram attributes (upstream's ``Attributes`` are two-word phrases), option axes and a price range.
Attribute pools overlap across types of a category on purpose: the same attributes on another type are
distractors that only the type reward tells apart.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["BRANDS", "CATEGORIES", "ProductType", "TYPES"]


@dataclass(frozen=True)
class ProductType:
    """One kind of product (e.g. "shampoo").

    Attributes:
        category: upstream's top-level category key (``beauty``, ``electronics``, ``fashion``, ``food``,
            ``furniture``).
        noun: the type as written in titles ("Shampoo").
        plural: the type as written in instructions ("shampoos").
        breadcrumb: ``product_category`` levels, outermost first.
        attributes: the bigram attributes products of this type may have.
        options: option axes, ``{name: values}`` (values lower case, unique across the axes of a type).
        price: ``(low, high)`` in dollars.
        extras: phrases for titles and descriptions.
    """

    category: str
    noun: str
    plural: str
    breadcrumb: tuple[str, ...]
    attributes: tuple[str, ...]
    options: dict[str, tuple[str, ...]]
    price: tuple[float, float]
    extras: tuple[str, ...] = ()

    @property
    def query(self) -> str:
        """The search query the product was "scraped" with (upstream's ``query``)."""
        return self.plural.lower()

    @property
    def type_tokens(self) -> tuple[str, ...]:
        """The nouns of the type (what the type reward compares)."""
        return tuple(w for w in self.noun.lower().replace("-", " ").split() if w.isalpha())


_COLORS = ("black", "white", "navy blue", "grey", "red", "green", "pink", "beige", "brown", "purple", "olive")
_APPAREL = ("x-small", "small", "medium", "large", "x-large", "xx-large")
_SHOE = ("6", "6.5", "7", "7.5", "8", "8.5", "9", "9.5", "10", "11", "12")
_PACK = ("pack of 1", "pack of 2", "pack of 3", "pack of 6", "pack of 12")
_FLOZ = ("8 fl oz", "12 fl oz", "16 fl oz", "32 fl oz")
_OZ = ("4 ounce", "8 ounce", "12 ounce", "16 ounce", "24 ounce", "2 pound")
_FINISH = ("matte black", "brushed nickel", "walnut", "natural oak", "espresso", "white oak", "cherry wood")
_B = ("Beauty & Personal Care",)
_E = ("Electronics",)
_F = ("Clothing, Shoes & Jewelry",)
_G = ("Grocery & Gourmet Food",)
_H = ("Home & Kitchen", "Furniture")


def _phrases(text: str) -> tuple[str, ...]:
    """``"dry skin, tea tree"`` -> ``("dry skin", "tea tree")``: a comma-separated list, read in order."""
    return tuple(phrase.strip() for phrase in text.split(","))


_BEAUTY_ATTRS = _phrases(
    "paraben free, sulfate free, cruelty free, long lasting, natural ingredients, dry skin, sensitive skin, "
    "tea tree, argan oil, hyaluronic acid, travel size, fragrance free, easy apply, high quality, hair growth, "
    "dry hair, oily skin, vitamin c"
)
_TECH_ATTRS = _phrases(
    "noise cancelling, fast charging, long battery, water resistant, high speed, wireless bluetooth, usb type, "
    "easy install, high definition, plug play, dual band, heavy duty, hands free, quad core, aluminum alloy, "
    "carrying case"
)
_FASHION_ATTRS = _phrases(
    "machine wash, slim fit, short sleeve, long sleeve, high waist, polyester spandex, button closure, hand wash, "
    "rubber sole, daily wear, quick drying, relaxed fit, cotton blend, non slip, elastic waistband, pull on, "
    "classic fit, lace up"
)
_FOOD_ATTRS = _phrases(
    "gluten free, non gmo, sugar free, low carb, keto friendly, plant based, usda organic, high protein, "
    "dairy free, artificial flavors, ready eat, individually wrapped, great gift, kosher certified, low sodium, "
    "whole grain"
)
_HOME_ATTRS = _phrases(
    "easy assemble, solid wood, living room, space saving, storage space, easy clean, dining room, mid century, "
    "metal frame, heavy duty, memory foam, wood finish, bedroom furniture, non slip, assembly required, "
    "faux leather"
)


def _t(category, noun, plural, crumbs, attributes, options, price, extras=()):
    return ProductType(category, noun, plural, tuple(crumbs), tuple(attributes), dict(options), price, tuple(extras))


# A table the formatter leaves as written: one product type per entry, the fields in `_t`'s order; formatted, each
# entry would take ten lines of one field each and the 30 types could no longer be compared at a glance.
TYPES: tuple[ProductType, ...] = (
    _t("beauty", "Shampoo", "shampoos", _B + ("Hair Care", "Shampoo & Conditioner", "Shampoos"),
       _BEAUTY_ATTRS, {"size": _FLOZ, "scent": ("lavender", "coconut", "unscented", "citrus", "fresh mint")},
       (6, 40), ("for Men and Women", "Salon Formula")),
    _t("beauty", "Face Moisturizer", "face moisturizers", _B + ("Skin Care", "Face", "Moisturizers"),
       _BEAUTY_ATTRS, {"size": ("1.7 fl oz", "2.5 fl oz", "3.4 fl oz")}, (9, 65), ("Day Cream", "with SPF 30")),
    _t("beauty", "Lipstick", "lipsticks", _B + ("Makeup", "Lips", "Lipstick"), _BEAUTY_ATTRS,
       {"color": ("ruby red", "nude", "coral", "berry", "mauve", "plum")}, (5, 30), ("Matte Finish", "Satin")),
    _t("beauty", "Hair Dryer", "hair dryers", _B + ("Hair Care", "Styling Tools", "Hair Dryers"),
       _BEAUTY_ATTRS + ("fast drying",), {"color": ("black", "white", "rose gold", "pink")}, (20, 120),
       ("Ionic", "1875W")),
    _t("beauty", "Nail Polish", "nail polishes", _B + ("Foot, Hand & Nail Care", "Nail Art & Polish", "Nail Polish"),
       _BEAUTY_ATTRS, {"color": ("cherry", "lilac", "clear", "coral", "teal"), "size": _PACK[:3]}, (4, 25),
       ("Gel Effect", "Quick Dry")),
    _t("beauty", "Body Wash", "body washes", _B + ("Skin Care", "Body", "Cleansers"), _BEAUTY_ATTRS,
       {"scent": ("eucalyptus", "vanilla", "coconut", "unscented"), "size": _FLOZ}, (5, 28), ("Moisturizing",)),
    _t("electronics", "Bluetooth Headphones", "bluetooth headphones",
       _E + ("Headphones, Earbuds & Accessories", "Headphones", "Over-Ear Headphones"), _TECH_ATTRS,
       {"color": ("black", "white", "silver", "navy blue", "rose gold")}, (25, 300), ("Over Ear", "with Mic")),
    _t("electronics", "Phone Charger", "phone chargers", _E + ("Cell Phones & Accessories", "Chargers", "Wall Chargers"),
       _TECH_ATTRS, {"color": ("black", "white"), "size": ("3 ft", "6 ft", "10 ft")}, (8, 45), ("20W", "PD 3.0")),
    _t("electronics", "Security Camera", "security cameras", _E + ("Camera & Photo", "Video Surveillance", "Cameras"),
       _TECH_ATTRS + ("night vision", "motion detection"), {"style": ("indoor", "outdoor", "doorbell"),
       "size": ("1 camera", "2 cameras", "4 cameras")}, (25, 200), ("1080p", "2K")),
    _t("electronics", "Portable Speaker", "portable speakers", _E + ("Portable Audio & Video", "Portable Speakers"),
       _TECH_ATTRS, {"color": ("black", "blue", "red", "grey", "green")}, (18, 180), ("IPX7", "Stereo")),
    _t("electronics", "Computer Mouse", "computer mice",
       _E + ("Computers & Accessories", "Keyboards, Mice & Accessories", "Mice"),
       _TECH_ATTRS, {"color": ("black", "white", "pink", "grey"), "style": ("corded", "wireless", "vertical")},
       (7, 90), ("Ergonomic", "2.4G")),
    _t("electronics", "Tablet Case", "tablet cases", _E + ("Computers & Accessories", "Tablet Accessories", "Cases"),
       _TECH_ATTRS + ("shock absorbing",), {"color": ("black", "navy blue", "purple", "red", "clear"),
       "size": ("10.2 inch", "11 inch", "12.9 inch")}, (9, 45), ("Slim", "Folio Stand")),
    _t("fashion", "Running Shoes", "running shoes", _F + ("Men", "Shoes", "Athletic", "Running"), _FASHION_ATTRS,
       {"color": _COLORS[:6], "size": _SHOE}, (30, 160), ("Breathable Mesh", "Lightweight")),
    _t("fashion", "Jumpsuit", "women's jumpsuits", _F + ("Women", "Clothing", "Jumpsuits, Rompers & Overalls"),
       _FASHION_ATTRS, {"color": ("black", "green stripe", "khaki", "wine red", "navy blue"), "size": _APPAREL},
       (18, 70), ("Wide Leg", "Casual")),
    _t("fashion", "T-Shirt", "men's t-shirts", _F + ("Men", "Clothing", "Shirts", "T-Shirts"), _FASHION_ATTRS,
       {"color": _COLORS, "size": _APPAREL}, (8, 35), ("Crew Neck", "Graphic")),
    _t("fashion", "Yoga Pants", "yoga pants", _F + ("Women", "Clothing", "Active", "Yoga Pants"), _FASHION_ATTRS,
       {"color": _COLORS[:8], "size": _APPAREL[:5]}, (14, 60), ("Tummy Control", "Leggings")),
    _t("fashion", "Sandals", "women's sandals", _F + ("Women", "Shoes", "Sandals"), _FASHION_ATTRS,
       {"color": ("tan", "black", "white", "gold", "silver"), "size": _SHOE[:9]}, (15, 80), ("Flat", "Strappy")),
    _t("fashion", "Winter Jacket", "winter jackets", _F + ("Men", "Clothing", "Jackets & Coats"), _FASHION_ATTRS,
       {"color": ("black", "navy blue", "olive", "grey", "red"), "size": _APPAREL}, (35, 220), ("Hooded", "Puffer")),
    _t("food", "Coffee Beans", "coffee beans", _G + ("Beverages", "Coffee", "Whole Coffee Beans"), _FOOD_ATTRS,
       {"flavor name": ("dark roast", "medium roast", "french vanilla", "hazelnut"), "size": _OZ}, (8, 45),
       ("Single Origin", "Arabica")),
    _t("food", "Protein Bar", "protein bars", _G + ("Snack Foods", "Bars", "Protein Bars"), _FOOD_ATTRS,
       {"flavor name": ("chocolate chip", "peanut butter", "cookies cream", "birthday cake"), "size": _PACK},
       (10, 50), ("20g Protein",)),
    _t("food", "Green Tea", "green teas", _G + ("Beverages", "Tea", "Green Tea"), _FOOD_ATTRS,
       {"flavor name": ("jasmine", "matcha", "lemon ginger", "mint"), "size": ("20 count", "40 count", "100 count")},
       (5, 30), ("Tea Bags", "Loose Leaf")),
    _t("food", "Beef Jerky", "beef jerky", _G + ("Snack Foods", "Jerky & Dried Meats", "Jerky"), _FOOD_ATTRS,
       {"flavor name": ("teriyaki", "original", "black pepper", "sweet spicy"), "size": _OZ[:4]}, (7, 40),
       ("Smoked", "Grass Fed")),
    _t("food", "Olive Oil", "olive oils", _G + ("Pantry Staples", "Oils", "Olive Oil"), _FOOD_ATTRS,
       {"size": ("16.9 fl oz", "25.3 fl oz", "33.8 fl oz", "1 gallon")}, (8, 55), ("Extra Virgin", "Cold Pressed")),
    _t("food", "Gummy Candy", "gummy candies", _G + ("Snack Foods", "Candy & Chocolate", "Gummy Candy"), _FOOD_ATTRS,
       {"flavor name": ("sour", "fruit", "cherry"), "size": _PACK}, (4, 30), ("Assorted",)),
    _t("furniture", "Office Chair", "office chairs", _H + ("Home Office Furniture", "Home Office Chairs"),
       _HOME_ATTRS + ("lumbar support",), {"color": ("black", "grey", "white", "blue")}, (60, 400),
       ("Ergonomic", "Swivel")),
    _t("furniture", "Coffee Table", "coffee tables", _H + ("Living Room Furniture", "Tables", "Coffee Tables"),
       _HOME_ATTRS, {"color": _FINISH, "size": ("36 inch", "42 inch", "48 inch")}, (45, 350), ("Rectangular",)),
    _t("furniture", "Bookshelf", "bookshelves", _H + ("Home Office Furniture", "Bookcases"), _HOME_ATTRS,
       {"color": _FINISH, "size": ("3 tier", "4 tier", "5 tier")}, (35, 260), ("Open Shelf", "Industrial")),
    _t("furniture", "Bed Frame", "bed frames", _H + ("Bedroom Furniture", "Beds, Frames & Bases", "Bed Frames"),
       _HOME_ATTRS, {"size": ("twin", "full", "queen", "king"), "color": ("black", "white", "grey", "walnut")},
       (90, 600), ("Platform", "Upholstered")),
    _t("furniture", "Bar Stool", "bar stools", _H + ("Kitchen & Dining Room Furniture", "Bar Stools"), _HOME_ATTRS,
       {"color": ("black", "grey", "white", "brown"), "size": ("24 inch", "26 inch", "30 inch"),
        "style": ("set of 2", "set of 4")}, (40, 300), ("Counter Height", "Swivel")),
    _t("furniture", "Shoe Rack", "shoe racks", _H + ("Storage & Organization", "Shoe Organizers", "Shoe Racks"),
       _HOME_ATTRS, {"color": ("black", "white", "natural", "espresso"), "size": ("3 tier", "5 tier", "8 tier")},
       (15, 90), ("Stackable",)),
)  # fmt: skip

CATEGORIES: tuple[str, ...] = ("beauty", "electronics", "fashion", "food", "furniture")

BRANDS: tuple[str, ...] = _phrases(
    "Aurelia, Brightfield, Cobalt Co, Dunmore, Evergreen Lane, Fernhill, Granite Peak, Harbor & Pine, Ivory Bay, "
    "Juniper, Kestrel, Lumina, Maple Row, Northwind, Oakmere, Pellucid, Quillon, Redwood Works, Sable, Tidewater, "
    "Umberly, Vantage, Willowby, Xenith, Yarrow, Zephyrine"
)
