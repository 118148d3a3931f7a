//! `FileList`: the files of a finished transfer as a Python sequence that makes a
//! `DownloadedFile` when one is read. A report of a million files then holds the core's records
//! once, instead of a Python object per file beside them.

use std::sync::Arc;

use pyo3::exceptions::{PyIndexError, PyOSError};
use pyo3::prelude::*;
use pyo3::types::{PyList, PySlice};

use idc_core::download as core;

use crate::records::DownloadedFile;

/// The files of a transfer (`DownloadedFile` values, sorted by path), read from the core's
/// records as they are asked for. It compares equal to any sequence of the same values, and
/// pickles as a list.
#[pyclass(frozen, sequence, module = "idc_index._core")]
pub struct FileList {
    report: Arc<core::Report>,
}

impl FileList {
    pub fn new(report: Arc<core::Report>) -> Self {
        Self { report }
    }

    /// File `i` (< len), read from the core's records (on disk for a large transfer).
    fn file(&self, i: usize) -> PyResult<DownloadedFile> {
        match self.report.files.get(i) {
            Some(Ok(record)) => Ok(DownloadedFile::from(&record)),
            Some(Err(e)) => Err(PyOSError::new_err(format!(
                "the list of downloaded files cannot be read back from its temporary file: {e}"
            ))),
            None => Err(PyIndexError::new_err(format!(
                "file index {i} out of range"
            ))),
        }
    }

    fn to_list<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let files = (0..self.report.files.len())
            .map(|i| self.file(i))
            .collect::<PyResult<Vec<_>>>()?;
        PyList::new(py, files)
    }
}

#[pymethods]
impl FileList {
    fn __len__(&self) -> usize {
        self.report.files.len()
    }

    /// One file (negative indices count from the end), or a list of the files of a slice.
    fn __getitem__<'py>(
        &self,
        py: Python<'py>,
        index: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let n = self.report.files.len() as isize;
        if let Ok(slice) = index.cast::<PySlice>() {
            let s = slice.indices(n)?;
            let picked = (0..s.slicelength as isize)
                .map(|k| self.file((s.start + k * s.step) as usize))
                .collect::<PyResult<Vec<_>>>()?;
            return Ok(PyList::new(py, picked)?.into_any());
        }
        let i: isize = index.extract()?;
        let at = if i < 0 { i + n } else { i };
        if !(0..n).contains(&at) {
            return Err(PyIndexError::new_err(format!(
                "file index {i} out of range: the transfer has {n} files"
            )));
        }
        Ok(Bound::new(py, self.file(at as usize)?)?.into_any())
    }

    fn __iter__(&self) -> FileIter {
        FileIter {
            files: FileList::new(Arc::clone(&self.report)),
            next: 0,
        }
    }

    fn __eq__(&self, other: &Bound<'_, PyAny>) -> PyResult<bool> {
        let Ok(len) = other.len() else {
            return Ok(false);
        };
        if len != self.report.files.len() {
            return Ok(false);
        }
        for (i, item) in other.try_iter()?.enumerate() {
            let item = item?;
            match item.cast::<DownloadedFile>() {
                Ok(f) if *f.get() == self.file(i)? => {}
                _ => return Ok(false),
            }
        }
        Ok(true)
    }

    /// Pickled as the list of its files (Dask sends reports between processes).
    fn __reduce__<'py>(
        &self,
        py: Python<'py>,
    ) -> PyResult<(Bound<'py, PyAny>, (Bound<'py, PyList>,))> {
        let list_type = py.get_type::<PyList>().into_any();
        Ok((list_type, (self.to_list(py)?,)))
    }

    fn __repr__(&self) -> String {
        format!("FileList({} files)", self.report.files.len())
    }
}

/// An iterator over a `FileList`.
#[pyclass(module = "idc_index._core")]
pub struct FileIter {
    files: FileList,
    next: usize,
}

#[pymethods]
impl FileIter {
    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __next__(&mut self) -> PyResult<Option<DownloadedFile>> {
        if self.next >= self.files.report.files.len() {
            return Ok(None);
        }
        self.next += 1;
        self.files.file(self.next - 1).map(Some)
    }
}
