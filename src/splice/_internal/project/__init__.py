"""The project file (`splice.yaml`): its model and its loader, with located errors."""
