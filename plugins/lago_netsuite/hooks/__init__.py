"""One hook per external system: Lago's REST API and the NetSuite RESTlet."""
