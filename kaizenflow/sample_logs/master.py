"""Master data of the simulated company: suppliers, plants, materials, users, and their hidden traits."""

# Built from the seed alone, so ``append_days`` rebuilds exactly what ``generate`` wrote, including
# traits that are not in any table (a supplier's delivery speed, how busy a plant is).

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

StrArray = npt.NDArray[np.str_]
FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

ROLES = ("requester", "buyer", "approver", "warehouse", "accounts_payable")
USERS_PER_PLANT = {"requester": 4, "buyer": 2, "approver": 2, "warehouse": 2, "accounts_payable": 2}

_PLANTS = (
    ("Hamburg Assembly", "Hamburg"),
    ("Lyon Components", "Lyon"),
    ("Brno Machining", "Brno"),
    ("Porto Packaging", "Porto"),
    ("Gdansk Logistics", "Gdansk"),
    ("Turin Electronics", "Turin"),
)
_SUPPLIER_STEMS = (
    "Acme", "Nordwind", "Baltic", "Iberia", "Alpen", "Danube", "Rhine", "Vistula", "Atlas",
    "Helios", "Orion", "Vega", "Kestrel", "Falcon", "Granite", "Cobalt", "Meridian", "Polaris",
    "Summit", "Harbor", "Tundra", "Zenith", "Pioneer", "Quarry", "Beacon",
)
_SUPPLIER_SUFFIXES = ("GmbH", "SARL", "s.r.o.", "S.A.", "Sp. z o.o.", "S.p.A.", "Ltd", "B.V.")
_COUNTRIES = ("Germany", "France", "Czechia", "Portugal", "Poland", "Italy", "Netherlands", "Spain")
_CATEGORIES = (
    "Fasteners", "Electrical", "Packaging", "Chemicals", "Spare parts", "IT hardware",
    "Safety equipment", "Office supplies",
)
_ITEMS = ("kit", "set", "module", "unit", "pack", "assembly", "component", "cartridge")
_FIRST = (
    "Anna", "Ben", "Clara", "David", "Elif", "Felix", "Greta", "Hugo", "Ines", "Jonas", "Kira",
    "Luca", "Mia", "Noah", "Olga", "Paul", "Rosa", "Sami", "Tara", "Umut", "Vera", "Wim",
)
_LAST = (
    "Novak", "Schmidt", "Dubois", "Silva", "Kowalski", "Rossi", "de Vries", "Garcia", "Weber",
    "Martin", "Horvat", "Costa", "Nowak", "Bianchi", "Jansen", "Lopez", "Fischer", "Moreau",
)


@dataclass(frozen=True)
class MasterData:
    """Table rows (column -> values) plus the traits the case simulation draws from."""

    suppliers: dict[str, npt.NDArray[Any]]
    plants: dict[str, npt.NDArray[Any]]
    materials: dict[str, npt.NDArray[Any]]
    users: dict[str, npt.NDArray[Any]]
    supplier_weights: FloatArray
    supplier_delivery_days: FloatArray  # mean delivery delay in working days
    supplier_terms: IntArray
    plant_weights: FloatArray
    material_prices: FloatArray
    staff: dict[str, StrArray]  # role -> (plant, slot) matrix of user ids

    @property
    def supplier_ids(self) -> StrArray:
        return self.suppliers["supplier_id"]

    @property
    def plant_ids(self) -> StrArray:
        return self.plants["plant_id"]

    @property
    def material_ids(self) -> StrArray:
        return self.materials["material_id"]


def numbered(prefix: str, numbers: npt.ArrayLike, width: int) -> StrArray:
    """Business keys like PR-0000042, vectorised."""
    values = np.asarray(numbers, dtype=np.int64)
    if values.size == 0:  # numpy's zfill cannot take an empty array (a quiet day has no new rows)
        return np.asarray([], dtype=np.str_)
    digits = np.strings.zfill(values.astype(np.str_), width)
    return np.asarray(np.strings.add(prefix, digits))


def build_master(seed: int) -> MasterData:
    """The company behind the data; a separate random stream so cases never shift it."""
    rng = np.random.default_rng([seed, 0x3A57E2])
    n_suppliers, n_materials = len(_SUPPLIER_STEMS), 200
    supplier_ids = numbered("S-", np.arange(1, n_suppliers + 1), 3)
    suffix = rng.integers(0, len(_SUPPLIER_SUFFIXES), n_suppliers)
    suppliers = {
        "supplier_id": supplier_ids,
        "name": np.array(
            [f"{s} {_SUPPLIER_SUFFIXES[i]}" for s, i in zip(_SUPPLIER_STEMS, suffix, strict=True)]
        ),
        "country": np.array(_COUNTRIES)[rng.integers(0, len(_COUNTRIES), n_suppliers)],
        "payment_terms_days": rng.choice(np.array([30, 45, 60], dtype=np.int64), n_suppliers),
    }
    plants = {
        "plant_id": numbered("P-", np.arange(1, len(_PLANTS) + 1), 2),
        "name": np.array([name for name, _ in _PLANTS]),
        "city": np.array([city for _, city in _PLANTS]),
    }
    category = rng.integers(0, len(_CATEGORIES), n_materials)
    item = rng.integers(0, len(_ITEMS), n_materials)
    prices = np.round(rng.lognormal(np.log(40.0), 1.1, n_materials), 2).clip(0.5, 5000.0)
    materials = {
        "material_id": numbered("M-", np.arange(1, n_materials + 1), 4),
        "name": np.array([
            f"{_CATEGORIES[c]} {_ITEMS[i]} {n:04d}"
            for n, (c, i) in enumerate(zip(category, item, strict=True), 1)
        ]),
        "category": np.array(_CATEGORIES)[category],
        "unit_price": prices,
    }
    users, staff = _users(rng, plants["plant_id"])
    return MasterData(
        suppliers=suppliers,
        plants=plants,
        materials=materials,
        users=users,
        supplier_weights=_weights(rng, n_suppliers),
        # Each supplier has its own typical lead time, so throughput differs by supplier.
        supplier_delivery_days=np.round(rng.uniform(1.0, 6.0, n_suppliers), 2),
        supplier_terms=suppliers["payment_terms_days"],
        plant_weights=_weights(rng, len(_PLANTS)),
        material_prices=prices,
        staff=staff,
    )


def _weights(rng: np.random.Generator, n: int) -> FloatArray:
    """Uneven but not extreme shares, so every object keeps enough cases for statistics."""
    raw = rng.uniform(0.6, 1.4, n)
    weights: FloatArray = raw / raw.sum()
    return weights


def _users(
    rng: np.random.Generator, plant_ids: StrArray
) -> tuple[dict[str, npt.NDArray[Any]], dict[str, StrArray]]:
    ids: list[str] = []
    names: list[str] = []
    roles: list[str] = []
    plants: list[str] = []
    staff: dict[str, list[list[str]]] = {role: [] for role in ROLES}
    for plant in plant_ids.tolist():
        for role in ROLES:
            slots = []
            for _ in range(USERS_PER_PLANT[role]):
                user_id = f"U-{len(ids) + 1:03d}"
                first, last = rng.integers(0, len(_FIRST)), rng.integers(0, len(_LAST))
                ids.append(user_id)
                names.append(f"{_FIRST[first]} {_LAST[last]}")
                roles.append(role)
                plants.append(plant)
                slots.append(user_id)
            staff[role].append(slots)
    users = {
        "user_id": np.array(ids),
        "name": np.array(names),
        "role": np.array(roles),
        "plant_id": np.array(plants),
    }
    return users, {role: np.array(matrix) for role, matrix in staff.items()}
