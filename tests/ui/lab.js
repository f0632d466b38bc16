// Helpers the UI test installs in JupyterLab's page (window.jupyterapp, exposed by
// --LabApp.expose_app_in_browser). Each returns plain JSON for tests/ui/test_jupyterlab.py.
window.cnnlibUI = (() => {
  const panel = () => window.jupyterapp.shell.currentWidget;
  const cells = () => panel().content.widgets;
  const cellOf = (el) => cells().findIndex((c) => c.node.contains(el));
  const running = (cell) => {
    const prompt = cell.node.querySelector('.jp-InputPrompt');
    return !!prompt && prompt.textContent.includes('*');
  };
  const RAW_WIDGET = /Loading widget|\b(HBox|VBox|interactive|FloatProgress|IntProgress|IntSlider)\((children|value)=|\|\s*0\/\d+ \[/;

  function ready() {
    const w = panel();
    if (!w || !w.context || !w.context.isReady || !w.sessionContext) return false;
    const kernel = w.sessionContext.session && w.sessionContext.session.kernel;
    return !!kernel && kernel.status === 'idle' && !w.sessionContext.pendingInput && cells().length > 0;
  }

  function dirty() {
    const w = panel();
    return {model: w.context.model.dirty, tab: w.title.className.includes('jp-mod-dirty')};
  }

  // A short fingerprint of an image's source (a data: URL), to tell redrawn figures apart.
  const fingerprint = (src) => {
    let hash = 0;
    for (let i = 0; i < src.length; i += 7) hash = (hash * 31 + src.charCodeAt(i)) | 0;
    return `${src.length}:${hash}`;
  };

  // Sample the progress bars of every cell, and the figures of the cells whose source holds
  // `figureMarker` (the live training cells), every 100 ms while the notebook runs. Not only the
  // cells marked running ('*'): once a check cell has failed (the student edition), JupyterLab drops
  // the '*' of the cells queued after it, which still run. A bar seen in two states moved while the
  // notebook ran; nothing but a run changes one.
  function startSampling(figureMarker) {
    window.cnnlibSamples = [];
    window.cnnlibFigureSamples = [];
    const watched = cells().map((cell) => !!figureMarker && cell.model.type === 'code'
                                && cell.model.sharedModel.getSource().includes(figureMarker));
    window.cnnlibSampler = setInterval(() => {
      cells().forEach((cell, index) => {
        if (cell.model.type !== 'code') return;
        if (watched[index]) {
          const images = [...cell.outputArea.node.querySelectorAll('img')];
          // running: no execution count yet (Run All clears them; the reply sets the count)
          window.cnnlibFigureSamples.push({cell: index, count: images.length,
                                           running: cell.model.executionCount === null,
                                           figures: images.map((img) => fingerprint(img.src))});
        }
        cell.node.querySelectorAll('.jp-OutputArea .widget-hprogress').forEach((bar) => {
          const box = bar.parentElement;
          const fill = bar.querySelector('.progress-bar');
          window.cnnlibSamples.push({cell: index, width: fill ? fill.style.width : '',
                                     text: box ? box.textContent : ''});
        });
      });
    }, 100);
  }

  // The kernel's own word on whether it is executing: the status messages of execute requests.
  // JupyterLab's kernel status also goes idle after comm (widget) messages while a cell runs, and
  // once a check cell has failed it drops the '*' of the cells it queued after it, which still run.
  let executing = false, watching = false;
  function watchExecution() {
    watching = true;
    panel().sessionContext.iopubMessage.connect((_, msg) => {
      if (msg.header.msg_type === 'status' && msg.parent_header
          && msg.parent_header.msg_type === 'execute_request') {
        executing = msg.content.execution_state !== 'idle';
      }
    });
  }

  function restartRunAll() {
    if (!watching) watchExecution();
    window.cnnlibDone = null;
    window.jupyterapp.commands.execute('notebook:restart-run-all').then(
      (result) => { window.cnnlibDone = {result: String(result)}; },
      (error) => { window.cnnlibDone = {error: String(error)}; });
  }

  function stopSampling() {
    clearInterval(window.cnnlibSampler);
    return window.cnnlibSamples;
  }

  // What startSampling saw of the figures in running cells: [{cell, count, figures}].
  function figureSamples() {
    return window.cnnlibFigureSamples;
  }

  // Run All has finished once the kernel is idle and every code cell has run, or once the kernel has
  // been idle for 3 s (after an error stopped Run All). JupyterLab's own promise is not enough: it
  // resolves at the first failing cell even when the kernel goes on (cells tagged raises-exception).
  let idleSince = null;
  function finished() {
    const w = panel();
    const kernel = w.sessionContext.session && w.sessionContext.session.kernel;
    if (!kernel || kernel.status !== 'idle' || executing || cells().some(running)) {
      idleSince = null;
      return false;
    }
    if (idleSince === null) idleSince = Date.now();
    const code = cells().filter((c) => c.model.type === 'code' && c.model.sharedModel.getSource().trim());
    return code.every((c) => c.model.executionCount !== null) || Date.now() - idleSince >= 3000;
  }

  function runningCell() {
    return cells().findIndex(running);
  }

  // Images loaded, widgets rendered: what "finished" means on screen.
  function settled() {
    const node = panel().content.node;
    const images = [...node.querySelectorAll('.jp-OutputArea img')];
    return images.every((img) => img.complete) && !node.textContent.includes('Loading widget');
  }

  function collect() {
    const w = panel();
    const notebook = w.content.node;
    const right = notebook.getBoundingClientRect().right;
    const report = {cells: [], images: [], scrollers: [], overflow: [], renders: []};
    cells().forEach((cell, index) => {
      const model = cell.model;
      const entry = {index, id: model.id, type: model.type, source: model.sharedModel.getSource(),
                     tags: model.getMetadata ? (model.getMetadata('tags') || []) : [],
                     count: null, outputs: []};
      if (model.type === 'code') {
        entry.count = model.executionCount;
        entry.outputs = model.outputs.toJSON();
        const children = [...cell.outputArea.node.querySelectorAll(':scope > .jp-OutputArea-child')];
        children.forEach((child, k) => {
          const output = child.querySelector('.jp-OutputArea-output');
          const rect = output ? output.getBoundingClientRect() : {width: 0, height: 0};
          const text = output ? output.textContent : '';
          report.renders.push({cell: index, output: k, text: text.slice(0, 300), tail: text.slice(-600),
                               mime: output ? (output.dataset.mimeType || '') : '',
                               widget: !!(output && output.querySelector('.jupyter-widgets')),
                               raw: RAW_WIDGET.test(text),
                               width: rect.width, height: rect.height});
        });
        cell.outputArea.node.querySelectorAll('img').forEach((img) => {
          const rect = img.getBoundingClientRect();
          // hidden: laid out nowhere (display: none on it or a parent), as a widget hides a figure
          // it has nothing to show in yet; a broken or empty figure still has a box.
          report.images.push({cell: index, hidden: img.getClientRects().length === 0,
                              natural: [img.naturalWidth, img.naturalHeight],
                              shown: [rect.width, rect.height], right: rect.right,
                              asked: img.getAttribute('width') ? Number(img.getAttribute('width')) : null});
        });
      }
      report.cells.push(entry);
    });
    // Everything in the notebook that scrolls sideways (outputs, editors, the notebook itself) ...
    [notebook, ...notebook.querySelectorAll('*')].forEach((el) => {
      const style = getComputedStyle(el);
      if (['auto', 'scroll'].includes(style.overflowX) && el.scrollWidth > el.clientWidth + 1) {
        const where = el.closest('.jp-OutputArea') ? 'output' : el.closest('.jp-InputArea') ? 'input' : 'notebook';
        report.scrollers.push({cell: cellOf(el), where, scrollWidth: el.scrollWidth, clientWidth: el.clientWidth,
                               cls: String(el.className).slice(0, 80)});
      }
    });
    // ... and every output that reaches past the notebook's right edge.
    notebook.querySelectorAll('.jp-OutputArea-output').forEach((el) => {
      const rect = el.getBoundingClientRect();
      if (rect.width > 0 && rect.right > right + 1) {
        report.overflow.push({cell: cellOf(el), right: rect.right, notebookRight: right});
      }
    });
    report.notebookRight = right;
    return report;
  }

  function show(index) {
    const cell = cells()[index];
    if (cell) cell.node.scrollIntoView({block: 'center'});
  }

  // Index of the cell whose output holds the first element matching `selector` (-1: none).
  function cellWith(selector) {
    const el = panel().content.node.querySelector(selector);
    return el ? cellOf(el) : -1;
  }

  // Time the next reading of a drawing, in the page's own clock: from the mouse button's release
  // (a mouseup anywhere, seen first, in the capture phase) to the first time the element matching
  // `selector` shows `text`. Read with readingTime(): null until both happened.
  function timeReading(selector, text) {
    const watch = window.cnnlibReading = {up: null, seen: null};
    const target = document.querySelector(selector);
    const look = () => {
      if (watch.up !== null && watch.seen === null && target.innerText.includes(text)) {
        watch.seen = performance.now();
      }
    };
    window.addEventListener('mouseup', (event) => { watch.up = performance.now(); look(); },
                            {capture: true, once: true});
    new MutationObserver(look).observe(target, {childList: true, subtree: true, characterData: true});
  }

  function readingTime() {
    const watch = window.cnnlibReading;
    return watch && watch.up !== null && watch.seen !== null ? (watch.seen - watch.up) / 1000 : null;
  }

  return {ready, dirty, startSampling, restartRunAll, finished, stopSampling, figureSamples, runningCell, settled,
          collect, show, cellWith, timeReading, readingTime};
})();
