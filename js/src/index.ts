// anywidget entry point: one PlayerView per rendered view of the Python Player widget.
import { PlayerView, type Model } from "./player";

function render({ model, el }: { model: Model; el: HTMLElement }): () => void {
  const view = new PlayerView(model, el);
  return () => view.destroy();
}

export default { render };
