"""Strict tool arguments: length limits in every published schema, no coercion, unknown names refused.

MCPServer builds each tool's argument model from its signature with lax pydantic defaults (strings
parsed as JSON, "yes" taken as true, unknown names ignored). ``make_arguments_strict`` replaces every
registered tool's model, once, right after registration; the limits below are what the signatures use.
"""

from __future__ import annotations

from typing import Any

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.utilities.func_metadata import ArgModelBase, FuncMetadata
from pydantic import ConfigDict, ValidationError
from pydantic_core import InitErrorDetails, PydanticCustomError

# Length limits published in every tool's input schema; pydantic refuses longer values before any work.
MAX_REVISION_CHARS = 300  # an id, prefix, label or a range "lower:upper"
MAX_PATH_CHARS = 4096
MAX_GIT_REF_CHARS = 200  # a branch, tag, remote branch or commit id (review_migration's changed_since)
MAX_MESSAGE_CHARS = 500
MAX_NAME_CHARS = 128  # a backup label or a table name
MAX_LIST_ITEMS = 1000

STRICT_ARGUMENTS = ConfigDict(extra="forbid", strict=True, hide_input_in_errors=True)


class StrictFuncMetadata(FuncMetadata):
    """Arguments exactly as the published schema says: JSON inside strings is not parsed into lists or
    objects, no value is coerced (``"yes"`` is not a boolean), an unknown name is refused by name."""

    def pre_parse_json(self, data: dict[str, Any]) -> dict[str, Any]:
        return dict(data)

    def validate_arguments(self, arguments_to_validate: dict[str, Any]) -> dict[str, Any]:
        valid = sorted(field.alias or name for name, field in self.arg_model.model_fields.items())
        unknown = sorted(set(arguments_to_validate) - set(valid))
        if unknown:
            raise _unknown_arguments(self.arg_model.__name__, unknown, valid)
        validated = super().validate_arguments(arguments_to_validate)
        _refuse_nul(self.arg_model.__name__, validated)
        return validated


def _refuse_nul(model_name: str, arguments: dict[str, Any]) -> None:
    """No file name, revision or label holds a NUL; the OS would refuse it deep inside a tool."""
    for name, value in arguments.items():
        items = value if isinstance(value, list) else [value]
        for index, item in enumerate(items):
            if isinstance(item, str) and "\x00" in item:
                loc = (name, index) if isinstance(value, list) else (name,)
                error = PydanticCustomError("nul_character", "must not contain a NUL character (\\x00)")
                detail = InitErrorDetails(type=error, loc=loc, input=None)
                raise ValidationError.from_exception_data(model_name, [detail], hide_input=True)


def _unknown_arguments(model_name: str, unknown: list[str], valid: list[str]) -> ValidationError:
    accepted = ", ".join(valid) if valid else "none (call it with {})"
    details = [
        InitErrorDetails(
            type=PydanticCustomError(
                "unknown_argument",
                "unknown argument '{name}'; this tool accepts: {accepted}",
                {"name": name[:100], "accepted": accepted},
            ),
            loc=(name[:100],),
            input=None,
        )
        for name in unknown[:10]
    ]
    return ValidationError.from_exception_data(model_name, details, hide_input=True)


def make_arguments_strict(server: MCPServer) -> None:
    """Give every registered tool a strict argument model (extra='forbid', strict=True) and publish it.

    There is no public hook for this in MCPServer, hence the tool manager's registry.
    """
    for tool in server._tool_manager.list_tools():
        lax = tool.fn_metadata
        strict_model = _strict_subclass(lax.arg_model)
        tool.fn_metadata = StrictFuncMetadata(
            arg_model=strict_model,
            output_schema=lax.output_schema,
            output_model=lax.output_model,
            wrap_output=lax.wrap_output,
        )
        tool.parameters = strict_model.model_json_schema(by_alias=True)


def _strict_subclass(model: type[ArgModelBase]) -> type[ArgModelBase]:
    config = {**model.model_config, **STRICT_ARGUMENTS}
    return type(model.__name__, (model,), {"model_config": config, "__module__": __name__})
