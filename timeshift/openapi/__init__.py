"""The ApsaraVideo Live OpenAPI (RPC style, version 2016-11-01): signing and client."""
