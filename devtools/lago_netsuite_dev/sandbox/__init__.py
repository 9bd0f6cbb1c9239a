"""Local stand-ins for Lago's API and a NetSuite RESTlet: real HTTP servers on loopback."""
