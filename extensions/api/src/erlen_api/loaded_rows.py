"""Serialising ORM rows from their loaded values: each instance's ``__dict__`` instead of a read per field.

A view that returns SQLAlchemy instances (``-> list[NoteOut]`` returning
``session.scalars(...).all()``) has them validated into its response model with
``from_attributes``: pydantic reads every field with ``getattr``, and on a
mapped class each read goes through SQLAlchemy's instrumented attribute, a
Python function. For a list of 50 rows of 5 fields, that is 250 calls, about
half of the validation's time.

Such an attribute returns the value in the instance's ``__dict__`` whenever it
is there (loaded, not expired), so for those instances the dict itself can be
validated, which pydantic reads in C. :class:`LoadedRows` decides once per
response model and mapped class whether that gives exactly what ``getattr``
gives, and per instance whether every field is loaded; anything else (a field
that is a Python property, an expired attribute, an alias, a model validator
that sees the raw input...) is validated from its attributes as before.

SQLAlchemy is optional: without it no class is mapped, and nothing changes.
"""

from __future__ import annotations

import inspect
import sys
import typing as t
from collections.abc import Sequence

from pydantic import BaseModel

#: The model validators that receive the raw input (an instance, or here its dict): they rule a model out.
_RAW_INPUT_MODES = frozenset({"before", "wrap", "plain"})


class LoadedRows:
    """Reads ORM instances' loaded values for validation into one response model.

    :param model: the response model (a pydantic model), or a list of it.
    """

    def __init__(self, model: type[BaseModel]) -> None:
        self.model = model
        self._eligible = _model_reads_plain_fields(model)
        # For each mapped class met: the keys every instance's dict must hold, or None when the dict cannot stand
        # in for the instance. Classes are few and live as long as the process, as do response models.
        self._keys_by_class: dict[type, frozenset[str] | None] = {}

    def dict_of(self, value: t.Any) -> dict[str, t.Any] | None:
        """The ``__dict__`` of the ORM instance ``value`` when it validates into the model as ``value`` does.

        :param value: what a view returned.
        :returns: the dict, or ``None`` when ``value`` must be validated from its attributes.
        """
        if not self._eligible:
            return None
        keys = self._keys_for(type(value), value)
        if keys is None:
            return None
        values: dict[str, t.Any] = value.__dict__
        return values if values.keys() >= keys else None

    def dicts_of(self, values: Sequence[t.Any]) -> list[dict[str, t.Any]] | None:
        """The ``__dict__`` of each ORM instance of ``values``, when all of them stand in for their instances.

        :param values: what a view returned for a list response: instances of one mapped class.
        :returns: the dicts, or ``None`` when ``values`` must be validated from their attributes.
        """
        if not self._eligible or not values:
            return None
        cls = type(values[0])
        keys = self._keys_for(cls, values[0])
        if keys is None:
            return None
        # One pass, in C as far as it goes: an instance of another class or with a field not loaded stops it.
        dicts = [found for each in values if type(each) is cls and (found := each.__dict__).keys() >= keys]
        return dicts if len(dicts) == len(values) else None

    def _keys_for(self, cls: type, instance: t.Any) -> frozenset[str] | None:
        """The fields' keys, when the dict of an instance of ``cls`` holding them all reads as its attributes do.

        :param cls: the instance's class.
        :param instance: an instance of it (the first met), to check where SQLAlchemy keeps its values.
        """
        try:
            return self._keys_by_class[cls]
        except KeyError:
            keys = _readable_keys(self.model, cls, instance)
            self._keys_by_class[cls] = keys
            return keys


def _model_reads_plain_fields(model: type[BaseModel]) -> bool:
    """Whether validating ``model`` from an object reads each field by its name and nothing else sees the object.

    Not so when a field has an alias (read by another name, maybe by both), when a model validator runs
    before the fields (it would see a dict instead of the instance), or when extra keys are kept or refused
    (a dict has more keys than the fields, an instance's attributes are not enumerated).

    :param model: the response model.
    """
    config = model.model_config
    if config.get("extra") not in (None, "ignore") or config.get("alias_generator") is not None:
        return False
    decorators = model.__pydantic_decorators__
    if any(validator.info.mode in _RAW_INPUT_MODES for validator in decorators.model_validators.values()):
        return False
    return all(info.alias is None and info.validation_alias is None for info in model.model_fields.values())


def _readable_keys(model: type[BaseModel], cls: type, instance: t.Any) -> frozenset[str] | None:
    """The model's field names, when each is a column attribute of the mapped class ``cls`` kept in ``__dict__``.

    SQLAlchemy's instrumented attribute answers ``instance.__dict__[key]`` whenever the key is there; a field
    that is anything else on the class (a property, a hybrid, a relationship) is read with ``getattr``.

    :param model: the response model.
    :param cls: the class of the instances returned.
    :param instance: one of them.
    :returns: the keys, or ``None`` when ``cls`` is not such a mapped class.
    """
    if "sqlalchemy" not in sys.modules:
        return None  # nothing is mapped without SQLAlchemy loaded
    from sqlalchemy import inspect as inspect_mapped
    from sqlalchemy.orm import InstrumentedAttribute, Mapper
    from sqlalchemy.orm.attributes import instance_dict

    mapper: Mapper[t.Any] | None = inspect_mapped(cls, raiseerr=False)
    if not isinstance(mapper, Mapper) or mapper.class_ is not cls:
        return None
    if t.cast(t.Any, cls).__getattribute__ is not object.__getattribute__:
        return None
    try:
        if instance_dict(instance) is not instance.__dict__:
            return None  # a custom instrumentation keeps the values elsewhere
    except (AttributeError, TypeError):
        return None
    columns = mapper.column_attrs
    keys = frozenset(model.model_fields)
    for key in keys:
        if key not in columns or not isinstance(inspect.getattr_static(cls, key, None), InstrumentedAttribute):
            return None
    return keys
