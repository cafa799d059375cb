pub mod browser;
pub mod mail;
pub mod mock_idp;
pub mod run;
