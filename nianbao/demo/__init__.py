"""The bundled demo portal (`nianbao demo`): declarative content (`content.yaml`), its canonical
reports (`nianbao.demo.content`) and the portal serving them (`nianbao.demo.portal`)."""

from nianbao.demo.content import DemoReport, portals, reports

__all__ = ["DemoReport", "portals", "reports"]
