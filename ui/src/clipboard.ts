// The clipboard, behind a function a view takes as a parameter so a test can hand it a fake.

/** Puts text on the clipboard. */
export type Copy = (text: string) => Promise<void>;

/** The asynchronous clipboard of the webview. */
export const clipboardCopy: Copy = async (text) => {
  // Not every webview offers the asynchronous clipboard; a missing one is a failure like any other.
  const clipboard = navigator.clipboard as Clipboard | undefined;
  if (clipboard === undefined) throw new Error("no clipboard here");
  await clipboard.writeText(text);
};
